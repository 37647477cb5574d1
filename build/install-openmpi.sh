#!/usr/bin/env bash
# Installs Open MPI from the distribution's packages when mpirun or libmpi.so.40 is missing: the MPI tests of
# MoeLayers.Distributed launch `mpirun -np 2` and fail (never skip) without it. Silent and instant when Open MPI is
# already there, so .ci/run calls it on every run. Needs root (or sudo) and the package registry; waits for package
# locks held by another apt-get (a parallel job) instead of failing.
# Usage: build/install-openmpi.sh
set -euo pipefail

have_openmpi() {
  command -v mpirun > /dev/null 2>&1 || return 1
  ldconfig -p 2> /dev/null | grep -q 'libmpi\.so\.40 ' && return 0
  for dir in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64/openmpi/lib /usr/local/lib; do
    [ -e "$dir/libmpi.so.40" ] && return 0
  done
  return 1
}

have_openmpi && exit 0

if ! command -v apt-get > /dev/null 2>&1; then
  echo "install-openmpi: mpirun or libmpi.so.40 is missing and this system has no apt-get: install Open MPI 4.x or 5.x" \
       "with its package manager (e.g. dnf install openmpi), or set MOELAYERS_MPI_LIBRARY to an Open MPI libmpi.so.40." >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo > /dev/null 2>&1; then
    sudo="sudo"
  else
    echo "install-openmpi: Open MPI is missing; as root run: apt-get update && apt-get install -y openmpi-bin libopenmpi-dev" >&2
    exit 1
  fi
fi

apt() {
  # DPkg::Lock::Timeout covers the dpkg lock; the lists lock of `update` is retried here.
  local log attempt
  log=$(mktemp)
  for attempt in $(seq 1 60); do
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" > "$log" 2>&1; then
      rm -f "$log"
      return 0
    fi
    if grep -q 'Could not get lock' "$log"; then
      sleep 10
      continue
    fi
    break
  done
  cat "$log" >&2
  rm -f "$log"
  return 1
}

echo "install-openmpi: mpirun or libmpi.so.40 not found; installing openmpi-bin and libopenmpi-dev"
if ! apt update -q || ! apt install -y -q --no-install-recommends openmpi-bin libopenmpi-dev; then
  echo "install-openmpi: apt-get failed (above); install openmpi-bin and libopenmpi-dev by hand" >&2
  exit 1
fi
if ! have_openmpi; then
  echo "install-openmpi: the packages installed but mpirun or libmpi.so.40 is still missing" >&2
  exit 1
fi
echo "install-openmpi: $(mpirun --version 2>&1 | head -n 1)"
