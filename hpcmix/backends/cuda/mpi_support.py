"""Whether mpi4py's MPI reads and writes GPU memory (CUDA-aware MPI), and how that was decided.

In order: ``HPCMIX_CUDA_AWARE_MPI=1`` or ``0`` (the user knows); Open MPI's ``MPIX_Query_cuda_support()``;
MPICH's ``MPIX_GPU_query_support(MPIX_GPU_SUPPORT_CUDA = 0, &flag)`` (MPICH >= 4.0; Cray MPICH also with
``MPICH_GPU_SUPPORT_ENABLED=1``); otherwise no. The MPI library's own extension functions are looked up
in the process (mpi4py has loaded the library), so no compiler or header is needed. Where the answer is
no, halos are staged through host memory (:class:`hpcmix.fields.halo.Halo`).
"""

import ctypes
import os

_MPIX_GPU_SUPPORT_CUDA = 0


def _symbol(name):
    """The C function ``name`` of the loaded MPI library, or None."""
    from mpi4py import MPI
    for lib in (MPI.__file__, None):
        try:
            return getattr(ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL), name)
        except (OSError, AttributeError):
            continue
    return None


def cuda_aware():
    """(True or False, how it was decided)."""
    forced = os.environ.get("HPCMIX_CUDA_AWARE_MPI")
    if forced in ("0", "1"):
        return forced == "1", f"HPCMIX_CUDA_AWARE_MPI={forced}"
    query = _symbol("MPIX_Query_cuda_support")
    if query is not None:
        query.restype = ctypes.c_int
        return bool(query()), "MPIX_Query_cuda_support()"
    query = _symbol("MPIX_GPU_query_support")
    if query is not None:
        flag = ctypes.c_int(0)
        query.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        if query(_MPIX_GPU_SUPPORT_CUDA, ctypes.byref(flag)) == 0:
            return bool(flag.value), "MPIX_GPU_query_support(CUDA)"
    return False, "the MPI library has no CUDA query (set HPCMIX_CUDA_AWARE_MPI=1 if it is CUDA-aware)"
