#!/usr/bin/env bash
# Installs Debian's PyTorch (python3-torch) and the pthread OpenBLAS (libopenblas0-pthread) when either is missing: the
# side-by-side benchmark (`--quick pytorch` of benchmarks/MoeLayers.Benchmarks, and benchmarks/pytorch/moe_cpu.py)
# runs /usr/bin/python3 with that torch. Without libopenblas0-pthread, Debian's torch calls the reference BLAS
# (libblas3) and runs 5-15x slower, so the script then checks which BLAS torch really loads and fails loudly if it is
# the reference one. Silent and instant when both are there and torch loads OpenBLAS. Needs root (or sudo) and the
# package registry for an install; waits for package locks held by another apt-get instead of failing.
# Usage: build/install-pytorch-cpu.sh
set -euo pipefail

python=/usr/bin/python3

have_package() {
  dpkg-query -W -f='${Status}' "$1" 2> /dev/null | grep -q 'install ok installed'
}

have_torch() {
  [ -x "$python" ] && "$python" -c 'import torch' > /dev/null 2>&1
}

# Prints the BLAS and LAPACK libraries torch maps after its first product, one path a line.
loaded_blas() {
  "$python" - << 'PY'
import os, re, torch
torch.ones(64, 64) @ torch.ones(64, 64)
with open("/proc/self/maps") as maps:
    paths = {os.path.realpath(l.split()[-1]) for l in maps
             if "/" in l and re.search(r"blas|lapack|mkl", l.split()[-1].split("/")[-1], re.I)}
print("\n".join(sorted(paths)))
PY
}

check_blas() {
  local libraries
  if ! libraries=$(loaded_blas); then
    echo "install-pytorch-cpu: $python could not run a torch product (above)" >&2
    return 1
  fi
  if grep -q '/blas/libblas\.so' <<< "$libraries" || ! grep -q 'openblas-pthread/' <<< "$libraries"; then
    {
      echo "install-pytorch-cpu: ************************************************************************"
      echo "install-pytorch-cpu: WARNING: torch does NOT use the pthread OpenBLAS; it loaded:"
      sed 's/^/install-pytorch-cpu:   /' <<< "${libraries:-(no BLAS library)}"
      echo "install-pytorch-cpu: With the reference BLAS (.../blas/libblas.so.3) torch runs 5-15x slower and the"
      echo "install-pytorch-cpu: side-by-side figures mean nothing. Select OpenBLAS as libblas.so.3, e.g.:"
      echo "install-pytorch-cpu:   update-alternatives --set libblas.so.3-$(uname -m)-linux-gnu /usr/lib/$(uname -m)-linux-gnu/openblas-pthread/libblas.so.3"
      echo "install-pytorch-cpu: (and the same for liblapack.so.3), or unset an LD_LIBRARY_PATH that points at blas/."
      echo "install-pytorch-cpu: ************************************************************************"
    } >&2
    return 1
  fi
  return 0
}

if have_torch && have_package libopenblas0-pthread; then
  check_blas
  exit
fi

if ! command -v apt-get > /dev/null 2>&1; then
  echo "install-pytorch-cpu: python3-torch or libopenblas0-pthread is missing and this system has no apt-get: install" \
       "PyTorch for $python and a multithreaded OpenBLAS (not the reference BLAS) with its package manager." >&2
  exit 1
fi

# shellcheck source=build/apt-install.sh
. "$(dirname "$0")/apt-install.sh"
echo "install-pytorch-cpu: torch for $python or libopenblas0-pthread not found"
apt_install install-pytorch-cpu python3-torch libopenblas0-pthread || exit 1
if ! have_torch; then
  echo "install-pytorch-cpu: the packages installed but $python still cannot import torch" >&2
  exit 1
fi
check_blas
echo "install-pytorch-cpu: $("$python" -c 'import torch; print("torch", torch.__version__)') with $(loaded_blas | grep -m1 openblas)"
