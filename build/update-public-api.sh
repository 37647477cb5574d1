#!/usr/bin/env bash
# Regenerates PublicAPI.Unshipped.txt of a library from the analyzer's RS0016/RS0017 diagnostics, for a deliberate
# change of the public surface: review the diff before committing. Usage: build/update-public-api.sh src/MoeLayers
set -euo pipefail
project_dir=${1:?project folder, e.g. src/MoeLayers}
unshipped="$project_dir/PublicAPI.Unshipped.txt"
printf '#nullable enable\n' > "$unshipped"
log=$(mktemp)
dotnet build "$project_dir" -f net10.0 --no-incremental -p:TreatWarningsAsErrors=false -p:WarningsAsErrors= > "$log" 2>&1 || true
grep -oP "RS0016: Symbol '\K.*(?=' is not part of the declared public API)" "$log" | sort -u >> "$unshipped.new" || true
sort -u "$unshipped.new" | sed 's/&lt;/</g; s/&gt;/>/g' >> "$unshipped"
rm -f "$unshipped.new" "$log"
echo "$(($(wc -l < "$unshipped") - 1)) symbols in $unshipped"
