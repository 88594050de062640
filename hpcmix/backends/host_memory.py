"""Host memory kept for reuse: the lattice code's temporaries served from memory the process already holds.

numpy allocates every temporary anew (an operator's output, a block product, a precision conversion). glibc's
malloc serves blocks above its mmap threshold (dynamic, at most 32 MiB) by fresh mappings and unmaps them on
free, and numpy advises transparent huge pages for arrays of 4 MiB and more; so every large temporary is
faulted in again and zeroed by the kernel, 2 MiB at a time. Measured 2026-12-02 on this project's 2-core
machine, 16^4 Wilson multigrid (4^4 blocks, 24 null vectors in single, kappa 0.157, 8 MR steps): perf put 41 %
of the samples in the kernel's ``clear_page`` under huge-page faults; ``hpcmix bench multigrid --size 16 --block
4 4 4 4 --no-gcr --no-pyamg --sloppy single --null-precision single --nu-post 8 --kappas 0.157``, medians of three
back to back with this module against the old behaviour (``NUMPY_MADVISE_HUGEPAGE=1 MALLOC_MMAP_MAX_=65536``):
the setup 13.3 s against 38.7 s, the solve 4.7 s against 10.1 s, double CG 6.9 s against 16.8 s.

So loading a backend (:func:`keep_freed_memory`, once per process) turns numpy's huge-page advice off and tells
glibc's malloc never to serve a block by its own mapping (``M_MMAP_MAX`` 0) and to hand the heap's free top back
only beyond 2 GiB (``M_TRIM_THRESHOLD``): a freed temporary's memory serves the next one, as a pool allocator's
would. The price: the process keeps about its peak heap until it exits. A user's own setting is left alone:
``NUMPY_MADVISE_HUGEPAGE`` for numpy's advice, any of :data:`MALLOC_VARIABLES` for malloc; where the C library
is not glibc only numpy's advice changes.
"""

import ctypes
import ctypes.util
import os
import platform

#: glibc's malloc tunables in the environment: where one is set, hpcmix leaves malloc as the user made it.
MALLOC_VARIABLES = ("MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                    "GLIBC_TUNABLES")
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4          # mallopt's parameters (glibc malloc.h)
TRIM_THRESHOLD = 2 ** 31 - 1                   # mallopt takes an int: 2 GiB


def _numpy_advice(enabled):
    """Set numpy's huge-page advice; returns the previous setting (numpy >= 2: numpy._core; 1.x: numpy.core)."""
    try:
        from numpy._core import multiarray
    except ImportError:
        from numpy.core import multiarray
    return multiarray._set_madvise_hugepage(enabled)


_state = None


def keep_freed_memory():
    """Keep freed host memory for reuse from now on (module doc), once per process; returns :func:`describe`."""
    global _state
    if _state is None:
        if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
            numpy_state = f"left to NUMPY_MADVISE_HUGEPAGE={os.environ['NUMPY_MADVISE_HUGEPAGE']}"
        else:
            _numpy_advice(False)
            numpy_state = "off"
        user = next((v for v in MALLOC_VARIABLES if v in os.environ), None)
        if user:
            malloc_state = f"left to {user}"
        elif platform.libc_ver()[0] != "glibc":
            malloc_state = "not glibc: unchanged"
        else:
            libc = ctypes.CDLL(ctypes.util.find_library("c"))
            kept = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
            malloc_state = "freed blocks kept" if kept else "mallopt refused (glibc's defaults, in part or whole)"
        _state = f"host memory: numpy huge-page advice {numpy_state}, malloc {malloc_state}"
    return _state


def describe():
    """What :func:`keep_freed_memory` did (or that no backend was loaded), for a benchmark's header."""
    return _state or "host memory: as the process started (no backend loaded)"


def huge_page_advice():
    """numpy's current huge-page advice (True or False)."""
    enabled = _numpy_advice(False)
    _numpy_advice(enabled)
    return bool(enabled)
