#!/usr/bin/env bash
# Run THERE (the GPU machine, from the repository root): unpacks .NET, points TorchSharp at PyTorch's CUDA libtorch,
# checks symbol compatibility, then runs the harness (probe, checks, benchmark) and the PyTorch eager baseline.
# Everything is printed and copied to $OUT (when set) so the results come back.
# Usage: scripts/gpu/run.sh [probe|check|bench|all] [harness options, e.g. --bf16]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/moelayers-gpu}
mkdir -p "$out"
command=${1:-all}
shift || true

{
  echo "== machine"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())" 2>&1
} | tee "$out/machine.txt"

mkdir -p /tmp/dotnet
[ -x /tmp/dotnet/dotnet ] || tar -xJf .gpu/dotnet-runtime.tar.xz -C /tmp/dotnet
export DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:$PATH
torch_lib=$(python3 -c "import torch,os;print(os.path.dirname(torch.__file__)+'/lib')")
export MOELAYERS_TORCH_LIB=$torch_lib
export LD_LIBRARY_PATH=$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# Which of libLibTorchSharp.so's undefined libtorch symbols PyTorch's libtorch does not define (TorchSharp 0.107 was
# built for libtorch 2.10): an empty list means the load can work.
native=.gpu/app/libLibTorchSharp.so
[ -f "$native" ] || native=.gpu/app/runtimes/linux-x64/native/libLibTorchSharp.so
{
  echo "== symbols of $native missing from $torch_lib"
  nm -D --undefined-only "$native" | awk '{print $2}' | sort -u > /tmp/needed.txt
  for lib in libtorch_cpu.so libtorch_cuda.so libc10.so libc10_cuda.so libtorch.so; do
    [ -f "$torch_lib/$lib" ] && nm -D --defined-only "$torch_lib/$lib" | awk '{print $3}'
  done | sort -u > /tmp/defined.txt
  # System libraries (libc, libstdc++, libgcc, libm) define the rest; list only C++-mangled names from torch namespaces.
  comm -23 /tmp/needed.txt /tmp/defined.txt | grep -E '^_ZN?K?(2at|3c10|5torch|6caffe2)' | tee /tmp/missing.txt | head -50
  echo "missing torch symbols: $(wc -l < /tmp/missing.txt) of $(wc -l < /tmp/needed.txt) undefined"
} 2>&1 | tee "$out/symbols.txt"

dotnet .gpu/app/MoeLayers.Cuda.GpuHarness.dll "$command" "$@" 2>&1 | tee "$out/harness-$command.txt"
status=${PIPESTATUS[0]}

if [ "$command" = bench ] || [ "$command" = all ]; then
  python3 scripts/gpu/pytorch_eager_moe.py "$@" 2>&1 | tee "$out/pytorch-eager.txt"
fi
exit "$status"
