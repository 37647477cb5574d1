"""Which BLAS this Python process loaded (Debian's python3-torch calls libblas.so.3, whichever alternative is
selected): shared by the PyTorch side of the benchmarks (moe_cpu.py) and scripts/moemodel/speed_reference.py."""

import ctypes
import os
import re

import torch


def blas_report():
    """(description, kind) of the BLAS this process loaded; kind is openblas-pthread, openblas-openmp,
    openblas-serial, reference, mkl or unknown."""
    with open("/proc/self/maps") as maps:
        paths = sorted({os.path.realpath(line.split()[-1]) for line in maps
                        if "/" in line and re.search(r"blas|lapack|mkl", line.split()[-1].split("/")[-1], re.I)})
    kind = "unknown"
    detail = ""
    for path in paths:
        name = os.path.basename(path)
        if "openblas" in name:
            kind = ("openblas-pthread" if "pthread" in path else "openblas-openmp" if "openmp" in path
                    else "openblas-serial" if "serial" in path else "openblas")
            try:
                library = ctypes.CDLL(path)
                library.openblas_get_config.restype = ctypes.c_char_p
                detail = f"{library.openblas_get_config().decode()}, {library.openblas_get_num_threads()} threads"
            except (OSError, AttributeError):
                pass
            break
        if "mkl" in name:
            kind = "mkl"
    # Debian's reference BLAS lives in .../blas/ (the libblas.so.3 alternative of priority 10); when that alternative
    # is selected torch's sgemm calls go there even if OpenBLAS is loaded for LAPACK.
    if any(re.search(r"/blas/libblas\.so", p) for p in paths):
        kind, detail = "reference", ""
    info = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    description = (f"{kind}{' (' + detail + ')' if detail else ''}; torch BLAS_INFO={info.group(1) if info else '?'}; "
                   f"loaded: {', '.join(paths) or 'none'}")
    return description, kind
