#!/usr/bin/env bash
# Run THERE: the one command a GPU machine runs, from the repository root, after scripts/gpu/prepare.sh filled .gpu/
# here (the device tool: carry [".gpu"]). About 5 minutes; everything it learns goes to $OUT (default /tmp/moelayers-gpu):
#   summary.txt          one line per step: PASS / FAIL / TIMEOUT / SKIP, seconds, and the file with its output
#   machine.txt          GPU, driver, CUDA, PyTorch, OS, libraries and tools present
#   runtime.txt          unpacking .NET (tar, or Python's tarfile where xz or tar is missing)
#   symbols.txt          libLibTorchSharp.so's symbols that PyTorch's libtorch lacks, bound at load vs at first call
#   probe-bindnow.txt    the harness's probe with LD_BIND_NOW=1: a missing symbol is named at load
#   probe.txt            the same probe with lazy binding (what a real run does)
#   check-torch.txt      TorchSharp alone on the GPU vs the CPU        } with CUDA_LAUNCH_BLOCKING=1, so an error names
#   check-fused.txt      the fused kernels vs the TorchSharp dispatch  } the kernel that caused it; each stage its own
#   check-grouped.txt    cuBLAS's grouped GEMM, every dtype, bf16 model } process, in this order
#   bench-moelayers.txt  fused + grouped GEMM, fused per-expert, TorchSharp dispatch, dense floor: 2 shapes x bf16, fp32
#   bench-pytorch.txt    PyTorch on the same GPU: the per-expert loop and torch._grouped_mm, same shapes
#   bench.jsonl, bench.md  every timing as JSON lines, and the table with the issue's targets
# Usage: scripts/gpu/first-run.sh [--dry-run] [--quick] [--stages machine,runtime,symbols,probe,check,bench]
#   --dry-run  no GPU needed: machine facts, unpack, symbols (against MOELAYERS_TORCH_LIB or a libtorch from the NuGet
#              cache), the probe (which must then report CUDA unavailable), script syntax; checks and benchmark skipped
#   --quick    2 warm-up runs and 7 timed rounds instead of 5 and 21
# Environment: OUT, MOELAYERS_GPU_DEADLINE (seconds for the whole run, default 540), MOELAYERS_DOTNET_ROOT (where .NET
#   is unpacked, default /tmp/moelayers-dotnet), MOELAYERS_TORCH_LIB (libtorch folder; default PyTorch's torch/lib),
#   MOELAYERS_UNPACK=python (skip tar).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

out=${OUT:-/tmp/moelayers-gpu}
mkdir -p "$out"
started=$(date +%s)
deadline=${MOELAYERS_GPU_DEADLINE:-540}
dry_run=0
quick=0
stages=machine,runtime,symbols,probe,check,bench
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry_run=1 ;;
    --quick) quick=1 ;;
    --stages) stages=${2:?--stages needs a list}; shift ;;
    *) echo "first-run.sh: unknown argument $1" >&2; exit 64 ;;
  esac
  shift
done
summary=$out/summary.txt
: > "$summary"
failures=0

note() { printf '%s\n' "$*" | tee -a "$summary"; }
wants() { case ",$stages," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
remaining() { echo $((deadline - ($(date +%s) - started))); }

# run_step NAME LIMIT COMMAND...: output to $out/NAME.txt, at most LIMIT seconds and never past the deadline; the verdict
# goes to summary.txt and the output's tail to the console (what comes back when the files do not).
run_step() {
  local name=$1 limit=$2 left t0 rc verdict
  shift 2
  left=$(remaining)
  if [ "$left" -lt 20 ]; then
    note "SKIP     $name: the run's deadline (${deadline}s) is reached"
    return 125
  fi
  [ "$limit" -le $((left - 10)) ] || limit=$((left - 10))
  t0=$(date +%s)
  printf '$ %.160s\n(limit %ss)\n' "$*" "$limit" > "$out/$name.txt"
  timeout --kill-after=10 "$limit" "$@" >> "$out/$name.txt" 2>&1
  rc=$?
  case $rc in
    0) verdict=PASS ;;
    124 | 137) verdict=TIMEOUT ;;
    *) verdict="FAIL($rc)" ;;
  esac
  note "$(printf '%-8s %s (%ss) -> %s.txt' "$verdict" "$name" "$(($(date +%s) - t0))" "$name")"
  echo "---- tail of $name.txt"
  tail -n 25 "$out/$name.txt"
  [ "$rc" -eq 0 ] || failures=$((failures + 1))
  return "$rc"
}

skip() { note "SKIP     $1: $2"; }

# In the dry run a probe must fail one way only: .NET started, TorchSharp loaded libtorch, and CUDA is unavailable.
expect_no_cuda() {
  if grep -q '^\[ok\]   torch.cuda.is_available(): False' "$out/$1.txt"; then
    note "EXPECTED $1: no GPU in the dry run; the harness started, loaded libtorch and said so"
    failures=$((failures - 1))
  fi
}

machine_facts() {
  echo "== date and host"; date -u; uname -a; grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release 2> /dev/null
  echo "cpus: $(nproc)"; free -g 2> /dev/null | head -n 2; df -h /tmp . 2> /dev/null
  echo "glibc: $(ldd --version 2> /dev/null | head -n 1)"
  echo "== GPU"
  if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm,power.limit --format=csv
    nvidia-smi
  else
    echo "no nvidia-smi on PATH"
  fi
  echo "== Python and PyTorch"
  command -v python3 && python3 --version
  python3 - << 'EOF'
import glob, os, platform
print("python", platform.python_version(), platform.libc_ver())
try:
    import torch
except Exception as error:  # the dry run, or a broken install
    print("no torch:", error)
else:
    lib = os.path.join(os.path.dirname(torch.__file__), "lib")
    print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "git", torch.version.git_version)
    print("torch lib", lib)
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            print(f"cuda:{i}", p.name, f"sm_{p.major}{p.minor}", f"{p.total_memory / 2**30:.1f} GiB", f"{p.multi_processor_count} SMs")
    else:
        print("torch.cuda.is_available() is False")
    print("allow_tf32 (matmul)", torch.backends.cuda.matmul.allow_tf32)
    print("has torch._grouped_mm:", hasattr(torch, "_grouped_mm"))
    roots = [os.path.dirname(torch.__file__) + "/../nvidia"]
    for path in sorted(set(glob.glob(lib + "/lib*.so*") + [p for r in roots for p in glob.glob(r + "/*/lib/lib*.so*")])):
        if any(k in os.path.basename(path) for k in ("torch", "c10", "cublas", "cudart", "nvrtc")):
            print("  ", os.path.realpath(path), os.path.getsize(path))
EOF
  echo "== tools"
  for tool in tar xz gzip nm readelf c++filt nvcc compute-sanitizer timeout; do
    printf '%-18s %s\n' "$tool" "$(command -v "$tool" || echo missing)"
  done
  echo "== environment"; env | grep -E '^(CUDA|NVIDIA|LD_|PYTHON|OUT=)' | sort
  echo "== this copy"; cat .gpu/source.txt 2> /dev/null || echo "no .gpu/source.txt"
}

unpack_dotnet() {
  local root=$1 archive="" candidate
  for candidate in .gpu/dotnet-runtime.tar.xz .gpu/dotnet-runtime.tar.gz; do
    [ -f "$candidate" ] && { archive=$candidate; break; }
  done
  [ -n "$archive" ] || { echo "no .gpu/dotnet-runtime.tar.*: run scripts/gpu/prepare.sh on the .NET machine first"; return 1; }
  mkdir -p "$root"
  local tool=xz flag=-J
  case $archive in *.gz) tool=gzip flag=-z ;; esac
  if [ "${MOELAYERS_UNPACK:-}" != python ] && command -v tar > /dev/null && command -v "$tool" > /dev/null \
    && tar -C "$root" "$flag" -xf "$archive"; then
    echo "unpacked $archive with tar into $root"
  else
    echo "tar or $tool missing or failed (MOELAYERS_UNPACK=${MOELAYERS_UNPACK:-}); unpacking with Python's tarfile"
    python3 - "$archive" "$root" << 'EOF' || return 1
import sys, tarfile
with tarfile.open(sys.argv[1]) as archive:
    if hasattr(tarfile, "data_filter"):
        archive.extractall(sys.argv[2], filter="data")
    else:
        archive.extractall(sys.argv[2])
print("unpacked", sys.argv[1], "with tarfile into", sys.argv[2])
EOF
  fi
  [ -x "$root/dotnet" ] || { echo "$root/dotnet is missing or not executable after unpacking"; return 1; }
}

torch_lib=${MOELAYERS_TORCH_LIB:-$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2> /dev/null)}
if [ -z "$torch_lib" ] && [ "$dry_run" = 1 ]; then
  # The dry run on a machine without PyTorch: the CPU libtorch TorchSharp-cpu brought to the NuGet cache.
  torch_lib=$(find "${NUGET_PACKAGES:-$HOME/.nuget/packages}" -path '*libtorch-cpu-linux-x64*/native/libtorch_cpu.so' 2> /dev/null \
    | sort | tail -n 1 | xargs -r dirname)
fi
native=$(find .gpu/app -name libLibTorchSharp.so 2> /dev/null | head -n 1)
harness=.gpu/app/MoeLayers.Cuda.GpuHarness.dll
dotnet_root=${MOELAYERS_DOTNET_ROOT:-/tmp/moelayers-dotnet}
export DOTNET_ROOT=$dotnet_root PATH=$dotnet_root:$PATH
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export MOELAYERS_TORCH_LIB=$torch_lib
[ -z "$torch_lib" ] || export LD_LIBRARY_PATH=$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
note "first-run.sh: out=$out deadline=${deadline}s dry_run=$dry_run quick=$quick stages=$stages torch_lib=${torch_lib:-none}"

if wants machine; then
  run_step machine 60 bash -c "$(declare -f machine_facts); machine_facts"
fi

dotnet_ok=0
if wants runtime; then
  if [ -x "$dotnet_root/dotnet" ]; then
    note "PASS     runtime: .NET already unpacked in $dotnet_root"
    dotnet_ok=1
  elif run_step runtime 120 bash -c "$(declare -f unpack_dotnet); unpack_dotnet '$dotnet_root' && '$dotnet_root/dotnet' --list-runtimes"; then
    dotnet_ok=1
  fi
elif [ -x "$dotnet_root/dotnet" ]; then
  dotnet_ok=1
fi

if wants symbols; then
  if [ -z "$native" ] || [ -z "$torch_lib" ]; then
    skip symbols "need .gpu/app/**/libLibTorchSharp.so (${native:-missing}) and a libtorch folder (${torch_lib:-missing})"
  else
    run_step symbols 120 python3 scripts/gpu/elf_symbols.py "$native" --search "$torch_lib"
  fi
fi

cuda_ok=0
if wants probe; then
  if [ "$dotnet_ok" != 1 ] || [ -z "$torch_lib" ]; then
    skip probe "needs .NET (runtime stage) and a libtorch folder"
  else
    run_step probe-bindnow 150 env LD_BIND_NOW=1 dotnet "$harness" probe
    [ "$dry_run" = 1 ] && expect_no_cuda probe-bindnow
    if run_step probe 150 dotnet "$harness" probe; then cuda_ok=1; fi
    [ "$dry_run" = 1 ] && [ "$cuda_ok" = 0 ] && expect_no_cuda probe
  fi
fi

if [ "$quick" = 1 ]; then rounds=(--warmup 2 --rounds 7); else rounds=(--warmup 5 --rounds 21); fi
if wants check; then
  if [ "$cuda_ok" != 1 ]; then
    skip check "CUDA is not usable by TorchSharp here (see probe.txt)"
  else
    for stage in check-torch check-fused check-grouped; do
      run_step "$stage" 200 env CUDA_LAUNCH_BLOCKING=1 dotnet "$harness" "$stage"
    done
  fi
fi

if wants bench; then
  if [ "$cuda_ok" != 1 ]; then
    skip bench "CUDA is not usable by TorchSharp here (see probe.txt)"
  else
    rm -f "$out/bench.jsonl"
    run_step bench-moelayers 260 dotnet "$harness" bench "${rounds[@]}" --json "$out/bench.jsonl"
    run_step bench-pytorch 200 python3 scripts/gpu/pytorch_moe_bench.py "${rounds[@]}" --json "$out/bench.jsonl"
    run_step bench-summary 30 python3 scripts/gpu/summarize_bench.py "$out/bench.jsonl" --markdown "$out/bench.md"
  fi
fi

if [ "$dry_run" = 1 ]; then
  run_step scripts-syntax 60 python3 -m py_compile scripts/gpu/elf_symbols.py scripts/gpu/pytorch_moe_bench.py scripts/gpu/summarize_bench.py
fi

note "first-run.sh: $failures failed step(s) in $(($(date +%s) - started))s; results in $out"
echo "==== summary"
cat "$summary"
[ -f "$out/bench.md" ] && { echo "==== bench.md"; cat "$out/bench.md"; }
[ "$failures" -eq 0 ]
