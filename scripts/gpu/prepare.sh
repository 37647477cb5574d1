#!/usr/bin/env bash
# Run HERE (the .NET machine): packs what a GPU machine without .NET needs into .gpu/ (git-ignored, carried by the
# device tool: carry [".gpu"]): the .NET runtime and the GPU harness published without libtorch.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu
runtime_script=${MOELAYERS_RUNTIME_SCRIPT:-../shared/gpu/make-runtime-archive.sh}
[ -x "$runtime_script" ] || runtime_script=/work/shared/gpu/make-runtime-archive.sh
"$runtime_script" .gpu
rm -rf .gpu/app
dotnet publish benchmarks/MoeLayers.Cuda.GpuHarness/MoeLayers.Cuda.GpuHarness.csproj -c Release -r linux-x64 \
  --self-contained false -o .gpu/app
du -sh .gpu .gpu/app .gpu/dotnet-runtime.tar.xz
total=$(du -sm .gpu | cut -f1)
[ "$total" -lt 64 ] || { echo "warning: .gpu is ${total} MiB; the device tool carries 64 MiB at most" >&2; }
