#!/usr/bin/env python3
"""PyTorch MoE layers on the CPU, timed like the C# quick suite (benchmarks/MoeLayers.Benchmarks, suite `dispatch`).

Forward + backward of one MoE layer (softmax top-k router, GELU experts, no biases) at the quick suite's shapes, as a
ratio to its own floor: one dense FFN of width h over k·T rows, measured in the same run. Two usual PyTorch styles:
`loop`   the masked per-expert loop of Hugging Face's MoE blocks (one_hot mask, where, index_add_), and
`sorted` a sort-based dispatch (argsort of the (token, slot) pairs by expert, one product per contiguous block,
          index_add_ back).
Cases are interleaved round by round; medians of wall time, with process CPU time next to it.

Run: apt-get install -y python3-torch libopenblas0-pthread   (without libopenblas0-pthread torch uses the reference BLAS)
     python3 benchmarks/pytorch/moe_cpu.py [--threads 2] [--rounds 9] [--shapes small,large,fine]
"""
import argparse
import re
import time

import torch
import torch.nn.functional as F

SHAPES = {  # T, d, h, E, k — the C# BenchShape values
    "small": (512, 128, 512, 8, 2),
    "large": (4096, 512, 2048, 8, 2),
    "fine": (4096, 512, 256, 64, 8),
}


class Experts(torch.nn.Module):
    def __init__(self, e, d, h):
        super().__init__()
        self.w_in = torch.nn.Parameter(torch.empty(e, d, h).uniform_(-d ** -0.5, d ** -0.5))
        self.w_out = torch.nn.Parameter(torch.empty(e, h, d).uniform_(-h ** -0.5, h ** -0.5))

    def run(self, e, rows):
        return F.gelu(rows @ self.w_in[e]) @ self.w_out[e]


def route(x, router, k):
    probs = F.softmax(x @ router.t(), dim=-1, dtype=torch.float)
    weights, indices = probs.topk(k, dim=-1)
    return weights / weights.sum(-1, keepdim=True), indices


def loop_moe(x, router, experts, k):
    weights, indices = route(x, router, k)
    out = torch.zeros_like(x)
    mask = F.one_hot(indices, num_classes=router.shape[0]).permute(2, 1, 0)  # [E, k, T]
    for e in range(router.shape[0]):
        slot, token = torch.where(mask[e])
        if token.numel() == 0:
            continue
        out.index_add_(0, token, experts.run(e, x[token]) * weights[token, slot, None])
    return out


def sorted_moe(x, router, experts, k):
    weights, indices = route(x, router, k)
    flat = indices.reshape(-1)
    order = flat.argsort(stable=True)
    tokens = order // k
    counts = torch.bincount(flat, minlength=router.shape[0]).tolist()
    rows = x[tokens]
    outputs, start = [], 0
    for e, n in enumerate(counts):
        if n:
            outputs.append(experts.run(e, rows[start:start + n]))
        start += n
    y = torch.cat(outputs) * weights.reshape(-1)[order, None]
    return torch.zeros_like(x).index_add_(0, tokens, y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--shapes", default="small,large,fine")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.ones(64, 64) @ torch.ones(64, 64)  # loads the BLAS
    info = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    with open("/proc/self/maps") as maps:
        libraries = sorted({line.split("/")[-1].strip() for line in maps if "blas" in line.lower() or "mkl" in line.lower()})
    print(f"# PyTorch {torch.__version__}, {args.threads} threads; BLAS_INFO={info.group(1) if info else '?'}; loaded: {', '.join(libraries) or 'none'}")
    for name in args.shapes.split(","):
        t, d, h, e, k = SHAPES[name]
        torch.manual_seed(0)
        x = torch.randn(t, d, requires_grad=True)
        floor_x = torch.randn(t * k, d, requires_grad=True)
        floor = torch.nn.Sequential(torch.nn.Linear(d, h, bias=False), torch.nn.GELU(), torch.nn.Linear(h, d, bias=False))
        router = torch.nn.Parameter(torch.empty(e, d).uniform_(-d ** -0.5, d ** -0.5))
        experts = Experts(e, d, h)
        cases = {
            "floor": lambda: floor(floor_x).sum().backward(),
            "loop": lambda: loop_moe(x, router, experts, k).sum().backward(),
            "sorted": lambda: sorted_moe(x, router, experts, k).sum().backward(),
        }
        for step in cases.values():
            for _ in range(args.warmup):
                step()
        wall = {c: [] for c in cases}
        cpu = {c: [] for c in cases}
        for _ in range(args.rounds):
            for c, step in cases.items():
                w0, c0 = time.perf_counter(), time.process_time()
                step()
                wall[c].append((time.perf_counter() - w0) * 1e3)
                cpu[c].append((time.process_time() - c0) * 1e3)
        median = lambda v: sorted(v)[len(v) // 2]
        for c in cases:
            print(f"case=pytorch-{c} shape={t},{d},{h},{e},{k} median_ms={median(wall[c]):.2f} cpu_ms={median(cpu[c]):.2f} "
                  f"ratio_to_floor={median(wall[c]) / median(wall['floor']):.3f}")


if __name__ == "__main__":
    main()
