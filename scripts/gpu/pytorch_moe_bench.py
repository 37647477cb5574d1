"""PyTorch eager baseline for the fused-dispatch benchmark: the plain per-expert loop most MoE code starts from.

Same shapes and timing rules as the .NET harness (T=16384, d=1024, h=4096, E=8, k=2 by default; median of interleaved
rounds, each timed to torch.cuda.synchronize()): softmax-then-top-k routing with renormalized weights, then for each
expert index_select its tokens, run a GELU FFN, and index_add the weighted outputs back.
"""
import argparse
import statistics
import time

import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=16384)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--experts", type=int, default=8)
    parser.add_argument("--topk", type=int, default=2)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=21)
    args, _ = parser.parse_known_args()
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    device = torch.device("cuda")
    torch.manual_seed(7)
    t, d, h, e, k = args.tokens, args.dim, args.hidden, args.experts, args.topk
    router = torch.nn.Linear(d, e, bias=False, device=device)
    w_in = torch.nn.Parameter((torch.randn(e, d, h, device=device) / d ** 0.5).to(dtype))
    w_out = torch.nn.Parameter((torch.randn(e, h, d, device=device) / h ** 0.5).to(dtype))
    x = torch.randn(t, d, device=device).to(dtype)

    def layer(inputs):
        probs = router(inputs.float()).softmax(-1)
        weights, experts = probs.topk(k, dim=-1)
        weights = (weights / weights.sum(-1, keepdim=True)).to(dtype)
        out = torch.zeros(t, d, device=device, dtype=dtype)
        for expert in range(e):
            token, slot = (experts == expert).nonzero(as_tuple=True)
            rows = torch.nn.functional.gelu(inputs.index_select(0, token) @ w_in[expert]) @ w_out[expert]
            out = out.index_add(0, token, rows * weights[token, slot].unsqueeze(1))
        return out

    def forward():
        with torch.no_grad():
            layer(x)
        torch.cuda.synchronize()

    def train():
        xg = x.detach().requires_grad_(True)
        layer(xg).float().sum().backward()
        torch.cuda.synchronize()

    cases = {"pytorch eager per-expert loop, forward": forward, "pytorch eager per-expert loop, train step": train}
    for step in cases.values():
        for _ in range(args.warmup):
            step()
    times = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, step in cases.items():
            start = time.perf_counter()
            step()
            times[name].append((time.perf_counter() - start) * 1000)
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, T={t} d={d} h={h} E={e} k={k} {dtype}")
    for name, values in times.items():
        print(f"  {name:<44} {statistics.median(values):9.3f} ms (median of {args.rounds})")


if __name__ == "__main__":
    main()
