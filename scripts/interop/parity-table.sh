#!/usr/bin/env bash
# Usage: scripts/interop/parity-table.sh  (runs the float32 folder parity tests and prints one Markdown row per fixture folder)
# Prints each fixture folder's largest float32 differences (output, logits, weights) from the parity tests' log lines.
cd "$(dirname "$0")/../.."
dotnet test tests/MoeLayers.Interop.Tests -c Release --filter "FullyQualifiedName~EveryMoeLayerMatchesThePublishedForwardInFloat32" --logger "console;verbosity=detailed" 2>&1 \
 | grep -E "layer [0-9]+: \|Δoutput\|" | sed 's/^ *//' | python3 -c '
import sys, re, collections
worst = collections.OrderedDict()
for line in sys.stdin:
    m = re.match(r"(\S+) layer (\d+): \|Δoutput\| (\S+) \(max \|y\| (\S+)\), \|Δlogits\| (\S+), \|Δweights\| (\S+)", line)
    if not m: continue
    name = m.group(1); vals = [float(m.group(i)) for i in (3, 5, 6)]
    w = worst.get(name, [0, 0, 0]); worst[name] = [max(a, b) for a, b in zip(w, vals)]
for name in sorted(worst):
    o, l, w = worst[name]
    print(f"| `{name}` | {o:.1e} | {l:.1e} | {w:.1e} |")
'
