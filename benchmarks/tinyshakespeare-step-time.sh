#!/usr/bin/env bash
# Seconds per training step of the tiny-shakespeare `seed` preset at two commits, same machine, same run (issue 14,
# item 6). Builds samples/TinyShakespeare at each commit in its own temporary git worktree (outside the repository,
# under $TMPDIR or /tmp; removed at the end), then trains the seed preset for a fixed number of steps, alternating
# before, after, before, after, ... and reads each run's s/step from its summary.json (SecondsPerIteration: training
# steps only, evaluation excluded; the same figure the sample prints as "... s/step" at the end of training).
# Prints every run, the median of each commit and the ratio after / before.
#
# Usage: benchmarks/tinyshakespeare-step-time.sh [options] <before-commit> [after-commit (default HEAD)]
#   --steps N     optimizer steps per run (default 300: about 75 s per run at the idle 0.25 s/step on 2 cores)
#   --runs N      runs per commit (default 3)
#   --threads N   libtorch threads for the sample (default: the sample's, all cores)
#   --keep        keep the temporary worktrees, builds and logs (their folder is printed)
# Example (before and after the CPU grouped GEMM merge): benchmarks/tinyshakespeare-step-time.sh 982c129^1 982c129
# Committed trees only: uncommitted changes in this checkout are not part of either build.
set -euo pipefail
export LC_ALL=C  # printf and awk decimals

steps=300
runs=3
threads=""
keep=0
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "step-time: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
if [ ${#positional[@]} -lt 1 ] || [ ${#positional[@]} -gt 2 ]; then
  echo "usage: $0 [--steps N] [--runs N] [--threads N] [--keep] <before-commit> [after-commit]" >&2
  exit 2
fi
for value in "$steps" "$runs" ${threads:+"$threads"}; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "step-time: --steps, --runs and --threads take positive integers; got '$value'" >&2; exit 2; }
done

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
before_ref=${positional[0]}
after_ref=${positional[1]:-HEAD}
resolve() {
  git -C "$repo" rev-parse --verify --quiet "$1^{commit}" || { echo "step-time: '$1' is not a commit of $repo" >&2; exit 2; }
}
before=$(resolve "$before_ref")
after=$(resolve "$after_ref")

work=$(mktemp -d "${TMPDIR:-/tmp}/moelayers-step-time.XXXXXX")
cleanup() {
  if [ "$keep" -eq 1 ]; then
    echo "step-time: kept $work (remove with: git -C $repo worktree remove --force <dir>; rm -rf $work)" >&2
    return
  fi
  for side in before after; do
    if [ -d "$work/$side" ]; then git -C "$repo" worktree remove --force "$work/$side" > /dev/null 2>&1 || true; fi
  done
  rm -rf "$work"
  git -C "$repo" worktree prune > /dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

describe() { git -C "$repo" log -1 --format='%h %s' "$1" | cut -c1-100; }
echo "# tiny-shakespeare seed preset, $steps steps per run, $runs runs per commit, alternated; threads ${threads:-sample default}"
echo "# before: $(describe "$before")"
echo "# after:  $(describe "$after")"
echo "# $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) at start"

for side in before after; do
  commit=$before
  [ "$side" = after ] && commit=$after
  git -C "$repo" worktree add --detach "$work/$side" "$commit" > /dev/null 2>&1 \
    || { echo "step-time: git worktree add $work/$side $commit failed" >&2; exit 1; }
  echo "# building $side in $work/$side ..."
  if ! (cd "$work/$side" && dotnet build -c Release samples/TinyShakespeare/TinyShakespeare.csproj -nologo > "$work/build-$side.log" 2>&1); then
    tail -n 30 "$work/build-$side.log" >&2
    echo "step-time: the $side build failed (log above)" >&2
    exit 1
  fi
done

# s/step of one run: SecondsPerIteration from summary.json, else the "... s/step" of the final console line.
seconds_per_step() {
  local out=$1 log=$2 value
  value=$(grep -o '"SecondsPerIteration": *[0-9.eE+-]*' "$out/summary.json" 2> /dev/null | sed 's/.*: *//') || true
  [ -n "$value" ] || value=$(grep -o '[0-9.]* s/step' "$log" | tail -n 1 | cut -d' ' -f1) || true
  echo "$value"
}

declare -A results=([before]="" [after]="") shown=([before]="" [after]="")
for run in $(seq 1 "$runs"); do
  for side in before after; do
    dll="$work/$side/samples/TinyShakespeare/bin/Release/net10.0/MoeLayers.Samples.TinyShakespeare.dll"
    out="$work/run-$side-$run"
    log="$work/train-$side-$run.log"
    # One evaluation batch per split, at the end only: the timed figure excludes evaluation, this keeps the runs short.
    if ! (cd "$work/$side" && dotnet "$dll" train --preset seed --iterations "$steps" --eval-interval "$steps" \
          --eval-batches 1 --final-eval-batches 1 --out "$out" --overwrite ${threads:+--threads "$threads"} > "$log" 2>&1); then
      tail -n 30 "$log" >&2
      echo "step-time: run $run of $side failed (log above)" >&2
      exit 1
    fi
    value=$(seconds_per_step "$out" "$log")
    if [ -z "$value" ]; then
      tail -n 10 "$log" >&2
      echo "step-time: no s/step in run $run of $side (log above)" >&2
      exit 1
    fi
    results[$side]="${results[$side]} $value"
    shown[$side]="${shown[$side]} $(printf '%.4f' "$value")"
    printf 'run=%d commit=%s sha=%s s_per_step=%.4f load=%s\n' "$run" "$side" "$(git -C "$repo" rev-parse --short "$([ "$side" = before ] && echo "$before" || echo "$after")")" \
      "$value" "$(cut -d' ' -f1 /proc/loadavg)"
    rm -rf "$out"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
before_median=$(echo "${results[before]}" | median)
after_median=$(echo "${results[after]}" | median)
ratio=$(awk -v a="$after_median" -v b="$before_median" 'BEGIN { printf "%.3f", a / b }')
echo "before: median $(printf '%.4f' "$before_median") s/step (runs:${shown[before]})"
echo "after:  median $(printf '%.4f' "$after_median") s/step (runs:${shown[after]})"
echo "ratio after / before: $ratio (below 1: after is faster)"
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at end"
echo
echo "| commit | s/step (median of $runs) | runs | after / before |"
echo "|---|---:|---|---:|"
echo "| before $(git -C "$repo" rev-parse --short "$before") | $(printf '%.4f' "$before_median") |${shown[before]} | |"
echo "| after $(git -C "$repo" rev-parse --short "$after") | $(printf '%.4f' "$after_median") |${shown[after]} | **$ratio** |"
