"""PyTorch baselines for the MoeLayers GPU benchmark, on the same GPU, shapes and timing rules as the .NET harness.

Per shape (coarse: T=16384 d=1024 h=4096 E=8 k=2; fine: T=16384 d=1024 h=512 E=64 k=8) and dtype (bf16, fp32):
  * "pytorch per-expert loop": what Hugging Face's MoE blocks (Mixtral, Qwen2-MoE) did: for each expert, torch.where
    finds its (token, slot) pairs, its FFN runs on those rows, index_add_ adds the weighted rows back;
  * "pytorch torch._grouped_mm": the pairs stably sorted by expert, rows gathered, each projection one torch._grouped_mm
    over cumulative group offsets (torchtitan's and recent transformers' path), weighted rows index_add_-ed back. If
    the unpadded call is refused, groups are padded to multiples of 16 rows (torchtitan's alignment) and that is said;
  * "pytorch dense FFN on k*T rows (floor)": one FFN of width h on k*T rows, the same active FLOPs.
Routing as in the .NET layer: a float32 linear router, softmax, top-k, weights renormalized (Mixtral); experts SwiGLU by
default; weights stored [E, out, in] as nn.Linear does; no auxiliary loss. Medians of interleaved rounds, each run timed
to torch.cuda.synchronize(); gradients accumulate across runs on both sides. One JSON line per case with --json.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F

SHAPES = {"coarse": (16384, 1024, 4096, 8, 2), "fine": (16384, 1024, 512, 64, 8)}
DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


def activate(activation, x, w_in, w_gate):
    hidden = F.linear(x, w_in)
    if activation == "swiglu":
        return F.silu(F.linear(x, w_gate)) * hidden
    return F.relu(hidden) if activation == "relu" else F.gelu(hidden)


class Moe:
    """Router and stacked expert weights shared by both MoE cases."""

    def __init__(self, t, d, h, e, k, dtype, activation, device):
        g = torch.Generator(device="cpu").manual_seed(7)
        self.k, self.e, self.activation, self.dtype = k, e, activation, dtype
        self.router = (torch.randn(e, d, generator=g) / math.sqrt(d)).to(device).requires_grad_(True)

        def weight(*shape):
            return (torch.randn(*shape, generator=g) / math.sqrt(shape[-1])).to(device, dtype).requires_grad_(True)

        self.w_in = weight(e, h, d)
        self.w_gate = weight(e, h, d) if activation == "swiglu" else None
        self.w_out = weight(e, d, h)
        self.x = torch.randn(t, d, generator=g).to(device, dtype)
        self.grouped_mode = None

    def route(self, x):
        probabilities = F.linear(x.float(), self.router).softmax(-1)
        weights, experts = probabilities.topk(self.k, dim=-1)
        return (weights / weights.sum(-1, keepdim=True)).to(self.dtype), experts

    def loop(self, x):
        weights, experts = self.route(x)
        out = torch.zeros_like(x)
        mask = F.one_hot(experts, self.e).permute(2, 1, 0)  # [E, k, T], as in HF's Mixtral block
        for expert in range(self.e):
            slot, token = torch.where(mask[expert])
            rows = activate(self.activation, x[token], self.w_in[expert], None if self.w_gate is None else self.w_gate[expert])
            out.index_add_(0, token, F.linear(rows, self.w_out[expert]) * weights[token, slot, None])
        return out

    def grouped(self, x):
        weights, experts = self.route(x)
        flat = experts.reshape(-1)
        order = torch.argsort(flat, stable=True)
        counts = torch.bincount(flat, minlength=self.e)
        token = order // self.k
        rows = x[token]
        if self.grouped_mode is None:
            self.grouped_mode = self._choose_mode(rows, counts)
        if self.grouped_mode == "padded16":
            y = self._padded(rows, counts)
        else:
            y = self._experts_grouped(rows, torch.cumsum(counts, 0, dtype=torch.int32))
        out = torch.zeros_like(x)
        return out.index_add_(0, token, y * weights.reshape(-1)[order, None])

    def _experts_grouped(self, rows, offsets):
        def mm(a, w):
            return torch._grouped_mm(a, w.transpose(-2, -1), offs=offsets)

        hidden = mm(rows, self.w_in)
        if self.activation == "swiglu":
            hidden = F.silu(mm(rows, self.w_gate)) * hidden
        else:
            hidden = F.relu(hidden) if self.activation == "relu" else F.gelu(hidden)
        return mm(hidden, self.w_out)

    def _padded(self, rows, counts):
        """Groups padded to multiples of 16 rows with zero rows, as torchtitan aligns token groups."""
        padded = (counts + 15) // 16 * 16
        starts = torch.cumsum(padded, 0) - padded
        first = torch.cumsum(counts, 0) - counts
        expert_of_row = torch.repeat_interleave(torch.arange(self.e, device=rows.device), counts, output_size=rows.shape[0])
        rank = torch.arange(rows.shape[0], device=rows.device) - first[expert_of_row]
        position = starts[expert_of_row] + rank
        total = int(padded.sum())  # one host sync, only in this fallback
        buffer = rows.new_zeros(total, rows.shape[1]).index_copy(0, position, rows)
        return self._experts_grouped(buffer, torch.cumsum(padded, 0, dtype=torch.int32))[position]

    def _choose_mode(self, rows, counts):
        if not hasattr(torch, "_grouped_mm"):
            return "unavailable: this torch has no torch._grouped_mm"
        last = "no attempt"
        for mode in ("unpadded", "padded16"):
            try:
                self.grouped_mode = mode
                with torch.no_grad():
                    if mode == "padded16":
                        self._padded(rows[:64], torch.bincount(torch.arange(64, device=rows.device) % self.e, minlength=self.e))
                    else:
                        sample = torch.bincount(torch.arange(64, device=rows.device) % self.e, minlength=self.e)
                        self._experts_grouped(rows[:64], torch.cumsum(sample, 0, dtype=torch.int32))
                torch.cuda.synchronize()
                return mode
            except Exception as error:  # any refusal (dtype, alignment, architecture) makes the next mode worth a try
                last = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
        return f"unavailable: {last}"


def dense_floor(t, d, h, k, dtype, activation, device):
    g = torch.Generator(device="cpu").manual_seed(8)
    rows = torch.randn(t * k, d, generator=g).to(device, dtype).requires_grad_(True)

    def weight(*shape):
        return (torch.randn(*shape, generator=g) / math.sqrt(shape[-1])).to(device, dtype).requires_grad_(True)

    w_in, w_gate, w_out = weight(h, d), weight(h, d) if activation == "swiglu" else None, weight(d, h)
    return lambda: F.linear(activate(activation, rows, w_in, w_gate), w_out)


def timed(function, train):
    def step():
        if train:
            function().float().sum().backward()
        else:
            with torch.no_grad():
                function()
        torch.cuda.synchronize()
    return step


def medians(steps, warmup, rounds):
    for step in steps:
        for _ in range(warmup):
            step()
    times = [[] for _ in steps]
    for _ in range(rounds):
        for i, step in enumerate(steps):
            start = time.perf_counter()
            step()
            times[i].append((time.perf_counter() - start) * 1000)
    return [statistics.median(t) for t in times]


def run(shape, dtype_name, args, device):
    t, d, h, e, k = SHAPES[shape]
    dtype = DTYPES[dtype_name]
    moe = Moe(t, d, h, e, k, dtype, args.activation, device)
    x = moe.x
    floor = dense_floor(t, d, h, k, dtype, args.activation, device)
    x_grad = x.detach().requires_grad_(True)
    cases = [("pytorch per-expert loop", lambda: moe.loop(x_grad))]
    moe.grouped(x.detach())  # picks the _grouped_mm mode once
    if not moe.grouped_mode.startswith("unavailable"):
        cases.append(("pytorch torch._grouped_mm", lambda: moe.grouped(x_grad)))
    cases.append(("pytorch dense FFN on k*T rows (floor)", floor))
    steps = [timed(f, train) for _, f in cases for train in (False, True)]
    result = medians(steps, args.warmup, args.rounds)
    floor_train = result[-1]
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__} (CUDA {torch.version.cuda}), {shape}: "
          f"T={t} d={d} h={h} E={e} k={k}, {dtype_name}, {args.activation}, median of {args.rounds}; "
          f"torch._grouped_mm: {moe.grouped_mode}")
    print(f"  {'case':<40} {'forward ms':>11} {'train ms':>10} {'train / floor':>14}")
    lines = []
    for i, (name, _) in enumerate(cases):
        forward, train = result[2 * i], result[2 * i + 1]
        print(f"  {name:<40} {forward:11.3f} {train:10.3f} {train / floor_train:14.3f}")
        lines.append(json.dumps({
            "impl": "pytorch", "case": name, "shape": shape, "tokens": t, "dim": d, "hidden": h, "experts": e, "topk": k,
            "dtype": dtype_name, "activation": args.activation, "rounds": args.rounds, "forward_ms": round(forward, 4),
            "train_ms": round(train, 4), "floor_train_ms": round(floor_train, 4), "grouped_mm_mode": moe.grouped_mode,
            "torch": torch.__version__, "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(),
        }))
    del moe, floor, cases, steps
    torch.cuda.empty_cache()
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["coarse", "fine", "all"], default="all")
    parser.add_argument("--dtype", choices=["bf16", "fp32", "all"], default="all")
    parser.add_argument("--activation", choices=["swiglu", "gelu", "relu"], default="swiglu")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", help="append one JSON line per case to this file")
    args = parser.parse_args()
    device = torch.device("cuda")
    failures = 0
    for shape in (["coarse", "fine"] if args.shape == "all" else [args.shape]):
        for dtype_name in (["bf16", "fp32"] if args.dtype == "all" else [args.dtype]):
            try:
                lines = run(shape, dtype_name, args, device)
            except (RuntimeError, torch.cuda.OutOfMemoryError) as error:
                print(f"FAIL  {shape} {dtype_name}: {type(error).__name__}: {error}")
                failures += 1
                continue
            if args.json:
                with open(args.json, "a", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
