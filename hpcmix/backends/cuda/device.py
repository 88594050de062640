"""Where the ``cupy`` backend's kernels run: a CUDA GPU (cupy arrays, numba-cuda kernels compiled for it),
numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1`` when numba.cuda is first imported: host numpy arrays,
kernels run by Python threads, for tests on small lattices), or nowhere, with the reason.

Each rank uses GPU (node-local rank mod the GPUs it sees), as cupy's and numba-cuda's current device.
"""

import importlib.util

import numpy as np

from ..base import BackendUnavailable

_HINT = "; NUMBA_ENABLE_CUDASIM=1 runs its kernels in numba-cuda's simulator instead (small lattices, tests)"


def simulated():
    """True where numba-cuda runs its simulator."""
    from numba.cuda.core import config
    return bool(config.ENABLE_CUDASIM)


def check():
    """Raise BackendUnavailable naming what is missing: numba-cuda, else (outside the simulator) cupy or a
    CUDA device."""
    if importlib.util.find_spec("numba_cuda") is None:
        raise BackendUnavailable("numba-cuda is not installed (pip install 'hpcmix[cuda12]')")
    if simulated():
        return
    try:
        import cupy
    except ImportError as exc:
        raise BackendUnavailable(f"cupy is not installed ({exc}; pip install 'hpcmix[cuda12]'){_HINT}") from None
    try:
        count, why = cupy.cuda.runtime.getDeviceCount(), "none visible"
    except cupy.cuda.runtime.CUDARuntimeError as exc:
        count, why = 0, str(exc)
    if count == 0:
        raise BackendUnavailable(f"no CUDA device ({why}){_HINT}")


def array_module():
    """numpy in the simulator, else cupy."""
    if simulated():
        return np
    import cupy
    return cupy


def shape(sites, block):
    """(blocks, threads per block) of a launch on ``sites`` sites: one thread per site in blocks of ``block``
    (a power of two) on a GPU; one block of 2 threads in the simulator, whose every thread is a Python thread
    (the kernels loop over the sites a launch does not cover)."""
    if simulated():
        return 1, 2
    return max(1, -(-sites // block)), block


def launch(kernel, blocks, threads, args):
    """``kernel[blocks, threads](*args)``; in the simulator, host arrays are passed as its device arrays (in
    place: the simulator would copy each array argument and copy every copy back, which breaks aliased
    arguments such as ``out`` also among a combination's fields)."""
    if simulated():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
        args = [FakeCUDAArray(a) if isinstance(a, np.ndarray) and a.ndim else a for a in args]
    kernel[blocks, threads](*args)


def bind(local_rank):
    """Make GPU (``local_rank`` mod the GPUs seen) current for cupy and numba-cuda; its index (None in the
    simulator)."""
    if simulated():
        return None
    import cupy
    from numba import cuda
    index = local_rank % cupy.cuda.runtime.getDeviceCount()
    cupy.cuda.Device(index).use()
    cuda.select_device(index)
    return index
