#!/usr/bin/env python3
"""Turns bench.jsonl (the .NET harness's and the PyTorch script's JSON lines) into one markdown table per shape and dtype,
with each case's training step (forward + backward) as a ratio to its own dense floor and to the PyTorch paths, and the
issue's targets at the fine-grained shape: MoeLayers fused >= 1.0x the torch._grouped_mm path's speed and >= 3x the
per-expert loop's. Usage: summarize_bench.py bench.jsonl [--markdown FILE]. Exit 0 (missing targets are reported, not errors).
"""
import argparse
import json
import sys

FUSED = "moelayers fused + grouped GEMM"
LOOP = "pytorch per-expert loop"
GROUPED_MM = "pytorch torch._grouped_mm"


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tables(rows):
    lines = []
    facts = next((r for r in rows if r.get("impl") == "pytorch"), None)
    if facts:
        lines.append(f"GPU: {facts['gpu']}; PyTorch {facts['torch']} (CUDA {facts['cuda']}).")
        lines.append("")
    keys = []
    for r in rows:
        key = (r["shape"], r["dtype"])
        if key not in keys:
            keys.append(key)
    targets = []
    for shape, dtype in keys:
        group = [r for r in rows if (r["shape"], r["dtype"]) == (shape, dtype)]
        first = group[0]
        by_case = {r["case"]: r for r in group}
        lines.append(f"### {shape}: T={first['tokens']} d={first['dim']} h={first['hidden']} E={first['experts']} k={first['topk']}, "
                     f"{dtype}, {first['activation']}")
        modes = {r.get("grouped_mm_mode") for r in group if r.get("grouped_mm_mode")}
        if modes:
            lines.append(f"torch._grouped_mm: {', '.join(sorted(modes))}")
        lines.append("")
        lines.append("| case | forward ms | fwd+bwd ms | fwd+bwd / own dense floor | speed vs _grouped_mm | speed vs loop |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        for r in group:
            vs = []
            for reference in (GROUPED_MM, LOOP):
                vs.append(f"{by_case[reference]['train_ms'] / r['train_ms']:.2f}x" if reference in by_case else "n/a")
            lines.append(f"| {r['case']} | {r['forward_ms']:.2f} | {r['train_ms']:.2f} | "
                         f"{r['train_ms'] / r['floor_train_ms']:.2f} | {vs[0]} | {vs[1]} |")
        lines.append("")
        if shape == "fine" and FUSED in by_case:
            fused = by_case[FUSED]["train_ms"]
            for reference, target in ((GROUPED_MM, 1.0), (LOOP, 3.0)):
                if reference in by_case:
                    speed = by_case[reference]["train_ms"] / fused
                    verdict = "met" if speed >= target else "MISSED"
                    targets.append(f"- fine {dtype}: fused vs {reference}: {speed:.2f}x (target >= {target:.1f}x): {verdict}")
                else:
                    targets.append(f"- fine {dtype}: fused vs {reference}: not measured")
    if targets:
        lines.append("### targets (fine-grained shape, forward + backward)")
        lines.extend(targets)
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jsonl")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    try:
        rows = load(args.jsonl)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = tables(rows)
    sys.stdout.write(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
