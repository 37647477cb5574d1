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

# shellcheck source=build/apt-install.sh
. "$(dirname "$0")/apt-install.sh"
echo "install-openmpi: mpirun or libmpi.so.40 not found"
apt_install install-openmpi openmpi-bin libopenmpi-dev || exit 1
if ! have_openmpi; then
  echo "install-openmpi: the packages installed but mpirun or libmpi.so.40 is still missing" >&2
  exit 1
fi
echo "install-openmpi: $(mpirun --version 2>&1 | head -n 1)"
