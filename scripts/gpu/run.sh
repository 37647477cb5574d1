#!/usr/bin/env bash
# Run THERE: part of first-run.sh, e.g. to repeat one stage after a fix (same $OUT files, same deadline rule).
# Usage: scripts/gpu/run.sh probe|check|bench|all [--quick] [--dry-run]
set -euo pipefail
cd "$(dirname "$0")/../.." || exit 1
what=${1:-all}
shift || true
case $what in
  probe) stages=machine,runtime,symbols,probe ;;
  check) stages=runtime,probe,check ;;
  bench) stages=runtime,probe,bench ;;
  all) stages=machine,runtime,symbols,probe,check,bench ;;
  *) echo "usage: scripts/gpu/run.sh probe|check|bench|all [--quick] [--dry-run]" >&2; exit 64 ;;
esac
exec scripts/gpu/first-run.sh --stages "$stages" "$@"
