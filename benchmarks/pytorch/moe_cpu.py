#!/usr/bin/env python3
"""PyTorch MoE layers on the CPU, timed like the C# quick suite (benchmarks/MoeLayers.Benchmarks, suite `dispatch`).

Forward + backward of one MoE layer (softmax top-k router renormalized over the k, GELU experts, no biases) at the
quick suite's shapes, as a ratio to its own floor: one dense FFN of width h over k·T rows, measured in the same run.
The loss is output.sum() plus the C# layer's default auxiliary losses (Switch load balancing, alpha = 0.01, and router
z-loss, beta = 0.001; --no-aux leaves them out). Two usual PyTorch styles:
`loop`   the masked per-expert loop of Hugging Face's MoE blocks (one_hot mask, where, index_add_), and
`sorted` a sort-based dispatch (argsort of the (token, slot) pairs by expert, split into one contiguous block per
          expert, one product per block, index_add_ back).
Expert weights are one parameter pair per expert, as Mixtral's nn.ModuleList (--stacked-weights: [E, d, h] tensors
indexed by w[e]).
Cases are interleaved round by round; medians of wall time, with process CPU time next to it.

Run: build/install-pytorch-cpu.sh   (python3-torch and libopenblas0-pthread: without the latter torch uses the reference
                                      BLAS and runs 5-15x slower)
     /usr/bin/python3 benchmarks/pytorch/moe_cpu.py [--threads 2] [--rounds 9] [--shapes small,large,fine]
(/usr/bin/python3: Debian's torch is a system package, invisible to a pyenv or virtualenv python3 earlier in PATH.)

--serve is the protocol of the C# suite `--quick pytorch`, which alternates blocks of C# and PyTorch rounds in one
run: the script prints its header and `ready`, then for each stdin line `run <shape> <rounds>` prints one
`sample case=... wall_ms=... cpu_ms=...` line per call and `ready` again; `quit` or end of input ends it.
"""
import argparse
import ctypes
import os
import sys
import time

SHAPES = {  # T, d, h, E, k — the C# BenchShape values
    "small": (512, 128, 512, 8, 2),
    "large": (4096, 512, 2048, 8, 2),
    "fine": (4096, 512, 256, 64, 8),
}
SWITCH_ALPHA = 0.01  # MoeLayerOptions.LoadBalancingCoefficient default
Z_BETA = 0.001  # MoeLayerOptions.ZLossCoefficient default


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="torch and OpenBLAS threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--shapes", default="small,large,fine", help=f"comma-separated, of {', '.join(SHAPES)}")
    parser.add_argument("--no-aux", action="store_true", help="leave out the Switch and z auxiliary losses")
    parser.add_argument("--stacked-weights", action="store_true",
                        help="experts' weights as stacked [E, d, h] parameters indexed by w[e] instead of one per expert")
    parser.add_argument("--serve", action="store_true", help="read `run <shape> <rounds>` lines from stdin (see above)")
    parser.add_argument("--reuse-freed-memory", action="store_true",
                        help="raise glibc's mmap and trim thresholds to 1 GiB (mallopt), as the C# suites do by default "
                             "(MoeLayers.CpuMemory.ReuseFreedMemory): freed tensors' memory is reused instead of faulted in anew")
    args = parser.parse_args()
    unknown = [s for s in args.shapes.split(",") if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; known: {', '.join(SHAPES)}")
    return args


ARGS = parse_args()
if ARGS.reuse_freed_memory:
    import ctypes

    _libc = ctypes.CDLL("libc.so.6")
    if _libc.mallopt(-1, 1 << 30) != 1 or _libc.mallopt(-3, 1 << 30) != 1:  # M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
        sys.exit("moe_cpu.py: mallopt refused the 1 GiB thresholds")
if ARGS.threads is not None:
    # OpenBLAS (pthread build) sizes its pool from these when it loads, before torch.set_num_threads can reach it.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(variable, str(ARGS.threads))

try:
    import torch
    import torch.nn.functional as F
except ImportError as error:
    print(f"moe_cpu.py: cannot import torch ({error}) with {sys.executable}. Install Debian's python3-torch and "
          "libopenblas0-pthread: build/install-pytorch-cpu.sh (as root), or apt-get install -y python3-torch "
          "libopenblas0-pthread; then run this script with /usr/bin/python3.", file=sys.stderr)
    sys.exit(3)

from blas_report import blas_report  # noqa: E402  (after torch: it reads the libraries torch loaded)


class Experts(torch.nn.Module):
    """E bias-free GELU MLPs. One parameter pair per expert by default, as Mixtral's nn.ModuleList of expert MLPs:
    with stacked [E, d, h] parameters indexed by w[e] (`stacked`), each expert's backward writes a gradient of the
    full stacked size, so the backward grows with E² (about 20x the floor at E = 64 here, like the C# loop-reference)."""

    def __init__(self, e, d, h, stacked=False):
        super().__init__()
        w_in = torch.empty(e, d, h).uniform_(-d ** -0.5, d ** -0.5)
        w_out = torch.empty(e, h, d).uniform_(-h ** -0.5, h ** -0.5)
        self.stacked = stacked
        if stacked:
            self.w_in = torch.nn.Parameter(w_in)
            self.w_out = torch.nn.Parameter(w_out)
        else:
            self.w_in = torch.nn.ParameterList([torch.nn.Parameter(w.clone()) for w in w_in])
            self.w_out = torch.nn.ParameterList([torch.nn.Parameter(w.clone()) for w in w_out])

    def run(self, e, rows):
        return F.gelu(rows @ self.w_in[e]) @ self.w_out[e]


def route(x, router, k, aux):
    """Softmax then top-k, renormalized; the auxiliary losses of the C# layer's defaults (or 0)."""
    logits = x @ router.t()
    probs = F.softmax(logits, dim=-1, dtype=torch.float)
    weights, indices = probs.topk(k, dim=-1)
    weights = weights / weights.sum(-1, keepdim=True)
    if not aux:
        return weights, indices, 0.0
    e = router.shape[0]
    # Switch: E · Σ f_i·P_i, f the fraction of the k·T assignments per expert (no gradient), P the mean probability;
    # z-loss: mean over tokens of logsumexp(logits)² (SwitchLoadBalancingLoss.cs, RouterZLoss.cs).
    fraction = torch.bincount(indices.reshape(-1), minlength=e).float() / indices.numel()
    switch = e * torch.dot(fraction.detach(), probs.mean(0))
    z = torch.logsumexp(logits.float(), dim=-1).square().mean()
    return weights, indices, SWITCH_ALPHA * switch + Z_BETA * z


def loop_moe(x, router, experts, k, aux):
    weights, indices, loss = route(x, router, k, aux)
    out = torch.zeros_like(x)
    mask = F.one_hot(indices, num_classes=router.shape[0]).permute(2, 1, 0)  # [E, k, T]
    for e in range(router.shape[0]):
        slot, token = torch.where(mask[e])
        if token.numel() == 0:
            continue
        out.index_add_(0, token, experts.run(e, x[token]) * weights[token, slot, None])
    return out, loss


def sorted_moe(x, router, experts, k, aux):
    weights, indices, loss = route(x, router, k, aux)
    flat = indices.reshape(-1)
    order = flat.argsort(stable=True)
    tokens = order // k
    counts = torch.bincount(flat, minlength=router.shape[0]).tolist()
    # split, not rows[start:start + n]: a slice's backward writes a zero gradient of the whole [k·T, d] buffer per
    # expert (E² in the backward), split's backward is one cat.
    blocks = x[tokens].split(counts)
    y = torch.cat([experts.run(e, rows) for e, rows in enumerate(blocks) if rows.shape[0]]) * weights.reshape(-1)[order, None]
    return torch.zeros_like(x).index_add_(0, tokens, y), loss


def set_openblas_threads(threads):
    """OpenBLAS's pool is its own (pthreads): size it like torch's, whatever the environment said."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line.split()[-1].split("/")[-1]}
    for path in paths:
        try:
            ctypes.CDLL(path).openblas_set_num_threads(threads)
        except (OSError, AttributeError):
            pass


class ShapeCases:
    """The floor and both MoE styles at one shape, built once (seeded) and warmed up."""

    def __init__(self, name, warmup, aux, stacked):
        self.name = name
        t, d, h, e, k = SHAPES[name]
        self.shape = f"{t},{d},{h},{e},{k}"
        torch.manual_seed(0)
        x = torch.randn(t, d, requires_grad=True)
        floor_x = torch.randn(t * k, d, requires_grad=True)
        floor = torch.nn.Sequential(torch.nn.Linear(d, h, bias=False), torch.nn.GELU(), torch.nn.Linear(h, d, bias=False))
        router = torch.nn.Parameter(torch.empty(e, d).uniform_(-d ** -0.5, d ** -0.5))
        experts = Experts(e, d, h, stacked)
        self.parameters = [router, *experts.parameters(), *floor.parameters(), x, floor_x]

        def step(moe):
            out, loss = moe(x, router, experts, k, aux)
            (out.sum() + loss).backward()

        self.cases = {
            "floor": lambda: floor(floor_x).sum().backward(),
            "loop": lambda: step(loop_moe),
            "sorted": lambda: step(sorted_moe),
        }
        for run in self.cases.values():
            for _ in range(warmup):
                self._call(run)

    def _call(self, run):
        for p in self.parameters:
            p.grad = None  # like the C# suite's dispose scope: no gradient accumulates across calls
        run()

    def rounds(self, count):
        """Per-call (case, wall ms, cpu ms), cases interleaved round by round."""
        for _ in range(count):
            for case, run in self.cases.items():
                w0, c0 = time.perf_counter(), time.process_time()
                self._call(run)
                yield case, (time.perf_counter() - w0) * 1e3, (time.process_time() - c0) * 1e3


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def serve(args):
    current = None
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] != "run" or len(words) != 3 or words[1] not in SHAPES:
            print(f"error: expected `run <{'|'.join(SHAPES)}> <rounds>` or `quit`; got {line.strip()!r}", flush=True)
            continue
        if current is None or current.name != words[1]:
            current = None  # frees the previous shape's tensors before building the next
            current = ShapeCases(words[1], args.warmup, not args.no_aux, args.stacked_weights)
        for case, wall, cpu in current.rounds(int(words[2])):
            print(f"sample case=pytorch-{case} shape={current.shape} wall_ms={wall:.3f} cpu_ms={cpu:.3f}", flush=True)
        print("ready", flush=True)


def main(args):
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.ones(64, 64) @ torch.ones(64, 64)  # loads the BLAS
    set_openblas_threads(threads)
    description, kind = blas_report()
    print(f"# PyTorch {torch.__version__}, {torch.get_num_threads()} threads, aux losses {'off' if args.no_aux else 'on'}, "
          f"allocator {'freed memory reused (mallopt 1 GiB)' if args.reuse_freed_memory else 'glibc defaults'}, "
          f"expert weights {'stacked [E, d, h]' if args.stacked_weights else 'one parameter per expert'}", flush=True)
    print(f"# blas={description}", flush=True)
    if kind == "reference":
        print("# WARNING: torch runs on the REFERENCE BLAS (netlib libblas.so.3): its times are 5-15x too slow. "
              "Install libopenblas0-pthread (build/install-pytorch-cpu.sh).", file=sys.stderr, flush=True)
    if args.serve:
        serve(args)
        return
    for name in args.shapes.split(","):
        cases = ShapeCases(name, args.warmup, not args.no_aux, args.stacked_weights)
        wall = {c: [] for c in cases.cases}
        cpu = {c: [] for c in cases.cases}
        for case, w, c in cases.rounds(args.rounds):
            wall[case].append(w)
            cpu[case].append(c)
        for c in cases.cases:
            print(f"case=pytorch-{c} shape={cases.shape} median_ms={median(wall[c]):.2f} cpu_ms={median(cpu[c]):.2f} "
                  f"ratio_to_floor={median(wall[c]) / median(wall['floor']):.3f} "
                  f"cpu_ratio_to_floor={median(cpu[c]) / median(cpu['floor']):.3f}", flush=True)


if __name__ == "__main__":
    main(ARGS)
