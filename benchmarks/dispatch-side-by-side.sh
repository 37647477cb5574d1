#!/usr/bin/env bash
# The quick dispatch benchmark's "moe ÷ floor" at two commits, same machine, same run. Builds
# benchmarks/MoeLayers.Benchmarks (Release) at each commit in its own temporary git worktree (outside the repository,
# under $TMPDIR or /tmp; removed at the end), then, for each run and each shape, runs the built benchmark's
# `--quick dispatch-<shape>` at before, then at after (alternated, so drift in machine load hits both) and reads its
# `case=moe` and `case=floor` lines: the layer's training step over its dense floor, wall (ratio_to_floor) and process
# CPU time (cpu_ratio_to_floor), and both medians in ms. Prints every run, then per shape the median of each commit
# and after / before (below 1: after is closer to its floor).
#
# Usage: benchmarks/dispatch-side-by-side.sh [options] <before-commit> [after-commit (default HEAD)]
#   --runs N      runs per commit and shape (default 3; a small run takes seconds, a large or fine run minutes)
#   --threads N   torch and MKL threads (OMP_NUM_THREADS, MKL_NUM_THREADS; default: libtorch's, all cores)
#   --shapes S    comma-separated, of small, large, fine (default small,large,fine)
#   --keep        keep the temporary worktrees, builds and logs (their folder is printed)
# Example: benchmarks/dispatch-side-by-side.sh --shapes small,fine e56d5b8 HEAD
# Both commits need the `dispatch-<shape>` suites (0813fb8 and later).
# Committed trees only: uncommitted changes in this checkout are not part of either build.
set -euo pipefail
export LC_ALL=C  # printf and awk decimals

runs=3
threads=""
shapes_arg="small,large,fine"
keep=0
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2-}; shift 2 || shift ;;
    --threads) threads=${2-}; shift 2 || shift ;;
    --shapes) shapes_arg=${2-}; shift 2 || shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "dispatch-side-by-side: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
if [ ${#positional[@]} -lt 1 ] || [ ${#positional[@]} -gt 2 ]; then
  echo "usage: $0 [--runs N] [--threads N] [--shapes small,large,fine] [--keep] <before-commit> [after-commit]" >&2
  exit 2
fi
for value in "$runs" ${threads:+"$threads"}; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "dispatch-side-by-side: --runs and --threads take positive integers; got '$value'" >&2; exit 2; }
done
IFS=',' read -r -a shapes <<< "$shapes_arg"
[ ${#shapes[@]} -gt 0 ] || { echo "dispatch-side-by-side: --shapes is empty" >&2; exit 2; }
declare -A shape_dims=([small]="512,128,512,8,2" [large]="4096,512,2048,8,2" [fine]="4096,512,256,64,8") seen=()
for shape in "${shapes[@]}"; do
  [ -n "${shape_dims[$shape]+x}" ] || { echo "dispatch-side-by-side: unknown shape '$shape' (small, large, fine)" >&2; exit 2; }
  [ -z "${seen[$shape]+x}" ] || { echo "dispatch-side-by-side: shape '$shape' given twice" >&2; exit 2; }
  seen[$shape]=1
done

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
before_ref=${positional[0]}
after_ref=${positional[1]:-HEAD}
resolve() {
  git -C "$repo" rev-parse --verify --quiet "$1^{commit}" || { echo "dispatch-side-by-side: '$1' is not a commit of $repo" >&2; exit 2; }
}
before=$(resolve "$before_ref")
after=$(resolve "$after_ref")
declare -A sha=([before]=$(git -C "$repo" rev-parse --short "$before") [after]=$(git -C "$repo" rev-parse --short "$after"))

work=$(mktemp -d "${TMPDIR:-/tmp}/moelayers-dispatch.XXXXXX")
cleanup() {
  if [ "$keep" -eq 1 ]; then
    echo "dispatch-side-by-side: kept $work (remove with: git -C $repo worktree remove --force <dir>; rm -rf $work)" >&2
    return
  fi
  for side in before after; do
    if [ -d "$work/$side" ]; then git -C "$repo" worktree remove --force "$work/$side" > /dev/null 2>&1 || true; fi
  done
  rm -rf "$work"
  git -C "$repo" worktree prune > /dev/null 2>&1 || true
}
trap cleanup EXIT
kept() { if [ "$keep" -eq 1 ]; then echo "$1"; else echo "rerun with --keep to keep it"; fi; }
trap 'exit 130' INT TERM

describe() { git -C "$repo" log -1 --format='%h %s' "$1" | cut -c1-100; }
echo "# quick dispatch benchmark, shapes ${shapes[*]}, $runs runs per commit and shape, alternated; threads ${threads:-libtorch default}"
echo "# before: $(describe "$before")"
echo "# after:  $(describe "$after")"
echo "# $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) at start"

for side in before after; do
  commit=$before
  [ "$side" = after ] && commit=$after
  git -C "$repo" worktree add --detach "$work/$side" "$commit" > /dev/null 2>&1 \
    || { echo "dispatch-side-by-side: git worktree add $work/$side $commit failed" >&2; exit 1; }
  echo "# building $side in $work/$side ..."
  start=$SECONDS
  if ! (cd "$work/$side" && dotnet build -c Release benchmarks/MoeLayers.Benchmarks/MoeLayers.Benchmarks.csproj -nologo > "$work/build-$side.log" 2>&1); then
    tail -n 30 "$work/build-$side.log" >&2
    echo "dispatch-side-by-side: the $side build ($(describe "$commit")) failed (log's tail above; $(kept "$work/build-$side.log"))" >&2
    exit 1
  fi
  dll="$work/$side/benchmarks/MoeLayers.Benchmarks/bin/Release/net10.0/MoeLayers.Benchmarks.dll"
  [ -f "$dll" ] || { echo "dispatch-side-by-side: the $side build succeeded but $dll is missing" >&2; exit 1; }
  echo "# built $side in $((SECONDS - start)) s"
done

# One field (key=value) of the first line that starts with "case=<name> shape=<dims> "; empty if absent.
field() {
  awk -v head="case=$2 shape=$3 " -v key="$4" '
    index($0, head) == 1 { for (i = 1; i <= NF; i++) if (index($i, key "=") == 1) { print substr($i, length(key) + 2); exit } }
  ' "$1"
}
number() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]; }

declare -A values=()  # [side:shape:metric] = " v1 v2 ..."
for run in $(seq 1 "$runs"); do
  for shape in "${shapes[@]}"; do
    dims=${shape_dims[$shape]}
    for side in before after; do
      dll="$work/$side/benchmarks/MoeLayers.Benchmarks/bin/Release/net10.0/MoeLayers.Benchmarks.dll"
      log="$work/run-$run-$shape-$side.log"
      start=$SECONDS
      # The dll directly (no `dotnet run`: no rebuild check between runs). The dispatch suites take no options; the
      # thread count reaches libtorch and MKL through their environment variables, and the header line reports it.
      if ! (cd "$work/$side" && env ${threads:+OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"} \
            dotnet "$dll" --quick "dispatch-$shape" > "$log" 2>&1); then
        tail -n 30 "$log" >&2
        echo "dispatch-side-by-side: run $run of $side (${sha[$side]}) at shape $shape failed (output's tail above; $(kept "$log"))" >&2
        exit 1
      fi
      seconds=$((SECONDS - start))
      torch_threads=$(grep -o 'torch threads=[0-9]*' "$log" | head -n 1 | cut -d= -f2) || true
      if [ -n "$threads" ] && [ "$torch_threads" != "$threads" ]; then
        head -n 3 "$log" >&2
        echo "dispatch-side-by-side: asked for $threads threads, run $run of $side reports torch threads=${torch_threads:-?}" >&2
        exit 1
      fi
      wall=$(field "$log" moe "$dims" ratio_to_floor)
      moe_ms=$(field "$log" moe "$dims" median_ms)
      floor_ms=$(field "$log" floor "$dims" median_ms)
      cpu=$(field "$log" moe "$dims" cpu_ratio_to_floor)
      if ! number "$wall" || ! number "$moe_ms" || ! number "$floor_ms"; then
        tail -n 15 "$log" >&2
        echo "dispatch-side-by-side: no 'case=moe shape=$dims ... median_ms=... ratio_to_floor=...' and 'case=floor' line" \
          "in run $run of $side (${sha[$side]}) at shape $shape (output's tail above; $(kept "$log"))" >&2
        exit 1
      fi
      number "$cpu" || cpu=""  # CPU time: only where the suite prints it
      for metric in wall moe_ms floor_ms cpu; do
        if [ -n "${!metric}" ]; then values[$side:$shape:$metric]="${values[$side:$shape:$metric]-} ${!metric}"; fi
      done
      printf 'run=%d shape=%s commit=%s sha=%s moe_over_floor=%s cpu_moe_over_floor=%s moe_ms=%s floor_ms=%s threads=%s seconds=%d load=%s\n' \
        "$run" "$shape" "$side" "${sha[$side]}" "$wall" "${cpu:-n/a}" "$moe_ms" "$floor_ms" "${torch_threads:-?}" "$seconds" \
        "$(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Median of side:shape:metric with printf format $4; "n/a" when no run printed it.
med() {
  local list=${values[$1:$2:$3]-}
  if [ -z "$list" ]; then echo "n/a"; else printf "$4" "$(echo "$list" | median)"; fi
}
quotient() {
  if [ "$1" = n/a ] || [ "$2" = n/a ]; then echo "n/a"; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; fi
}
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at end"
echo
echo "moe ÷ floor: one training step of MoeLayer (Auto dispatch) over its dense floor; medians over $runs run(s) per commit;" \
  "after / before below 1: after is closer to its floor"
echo
echo "| shape (T, d, h, E, k) | before ${sha[before]} wall | after ${sha[after]} wall | after / before | before CPU | after CPU | after / before (CPU) | moe ms before → after | floor ms before → after |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for shape in "${shapes[@]}"; do
  wb=$(med before "$shape" wall '%.3f'); wa=$(med after "$shape" wall '%.3f')
  cb=$(med before "$shape" cpu '%.3f'); ca=$(med after "$shape" cpu '%.3f')
  echo "| $shape ${shape_dims[$shape]//,/, } | $wb | $wa | **$(quotient "$wa" "$wb")** | $cb | $ca | $(quotient "$ca" "$cb")" \
    "| $(med before "$shape" moe_ms '%.2f') → $(med after "$shape" moe_ms '%.2f')" \
    "| $(med before "$shape" floor_ms '%.2f') → $(med after "$shape" floor_ms '%.2f') |"
done
