#!/usr/bin/env bash
# Run HERE (a machine with the .NET SDK): puts what a GPU machine without .NET needs into .gpu/ (git-ignored; the
# device tool carries it with carry: [".gpu"]):
#   .gpu/dotnet-runtime.tar.xz (or .tar.gz without xz)  the .NET runtime the harness needs, no SDK (about 30 MB)
#   .gpu/app/                                            the GPU harness, published framework-dependent without libtorch
# Then, on the GPU machine: scripts/gpu/first-run.sh (one command; see scripts/gpu/README.md).
# Environment: MOELAYERS_RUNTIME_SCRIPT=path  use that script (called with the output folder) to pack the runtime instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpu
mkdir -p "$out"

rm -rf "$out/app"
dotnet publish benchmarks/MoeLayers.Cuda.GpuHarness/MoeLayers.Cuda.GpuHarness.csproj -c Release -r linux-x64 \
  --self-contained false -o "$out/app"
native=$(find "$out/app" -name libLibTorchSharp.so | head -n 1)
[ -n "$native" ] || { echo "prepare: the publish output has no libLibTorchSharp.so" >&2; exit 1; }

if [ -n "${MOELAYERS_RUNTIME_SCRIPT:-}" ]; then
  "$MOELAYERS_RUNTIME_SCRIPT" "$out"
else
  # The newest installed runtime of the major.minor the harness targets (its runtimeconfig.json), with its host.
  root=$(dirname "$(readlink -f "$(command -v dotnet)")")
  wanted=$(sed -n 's/.*"version": *"\([0-9]*\.[0-9]*\)\..*/\1/p' "$out/app/MoeLayers.Cuda.GpuHarness.runtimeconfig.json" | head -n 1)
  [ -n "$wanted" ] || { echo "prepare: cannot read the harness's runtime version" >&2; exit 1; }
  version=$(find "$root/shared/Microsoft.NETCore.App" -mindepth 1 -maxdepth 1 -name "$wanted.*" -printf '%f\n' | sort -V | tail -n 1)
  [ -n "$version" ] || { echo "prepare: no Microsoft.NETCore.App $wanted.* under $root/shared" >&2; exit 1; }
  fxr=$(find "$root/host/fxr" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
  if command -v xz > /dev/null; then archive="$out/dotnet-runtime.tar.xz" flag=-J; else archive="$out/dotnet-runtime.tar.gz" flag=-z; fi
  stamp="$out/dotnet-runtime.version"
  if [ -s "$archive" ] && [ "$(cat "$stamp" 2> /dev/null)" = "$version" ]; then
    echo "prepare: $archive already holds .NET $version"
  else
    rm -f "$out"/dotnet-runtime.tar.*
    tar -C "$root" "$flag" -cf "$archive.tmp" dotnet "host/fxr/$fxr" "shared/Microsoft.NETCore.App/$version"
    mv "$archive.tmp" "$archive"
    echo "$version" > "$stamp"
    echo "prepare: packed .NET $version (hostfxr $fxr) into $archive"
  fi
fi

# The GPU machine gets a working tree without .git: say which source this is.
{
  echo "commit $(git rev-parse HEAD 2> /dev/null || echo unknown) on $(git rev-parse --abbrev-ref HEAD 2> /dev/null || echo unknown)"
  echo "uncommitted files: $(git status --porcelain 2> /dev/null | wc -l)"
  echo "prepared $(date -u +%Y-%m-%dT%H:%M:%SZ) with $(dotnet --version 2> /dev/null || echo unknown SDK)"
} > "$out/source.txt"

du -sh "$out" "$out/app" "$out"/dotnet-runtime.tar.*
total=$(du -sm "$out" | cut -f1)
if [ "$total" -ge 64 ]; then
  echo "prepare: warning: $out is ${total} MiB; the device tool carries 64 MiB at most" >&2
fi
