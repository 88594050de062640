"""Where the ``cupy`` backend's kernels run: a CUDA GPU (cupy arrays, numba-cuda kernels compiled for it),
numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1`` when numba.cuda is first imported: host numpy arrays,
kernels run by Python threads, for tests on small lattices), or nowhere, with the reason.

Each rank uses GPU ``HPCMIX_GPU`` where that is set, else (node-local rank mod the GPUs it sees), as cupy's
and numba-cuda's current device (a job script that gives each rank its own ``CUDA_VISIBLE_DEVICES`` leaves
it one GPU, index 0). Work is queued on two streams (:class:`Streams`): kernels and BLAS-1 on the compute
stream, halo packing, staging and unpacking on the halo stream, ordered by events, so a stencil's interior
runs while its faces travel. Device memory comes from cupy's memory pool, so the fields and temporaries of
a solve's iterations reuse the blocks its first iteration allocated.
"""

import importlib.util
import os
from contextlib import contextmanager

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


def candidates():
    """The threads per block a launch may use (:mod:`.tune`): the simulator's one shape, or the tuned ones."""
    from .tune import CANDIDATES
    return (2,) if simulated() else CANDIDATES


def shape(sites, threads):
    """(blocks, threads per block) of a launch on ``sites`` sites: one thread per site in blocks of
    ``threads`` (a power of two) on a GPU; one block of 2 threads in the simulator, whose every thread is a
    Python thread (the kernels loop over the sites a launch does not cover)."""
    if simulated():
        return 1, 2
    return max(1, -(-sites // threads)), threads


def launch(kernel, blocks, threads, args, stream=None):
    """``kernel[blocks, threads, stream](*args)``; in the simulator, host arrays are passed as its device
    arrays (in place: the simulator would copy each array argument and copy every copy back, which breaks
    aliased arguments such as ``out`` also among a combination's fields) and streams are not used."""
    if simulated():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
        args = [FakeCUDAArray(a) if isinstance(a, np.ndarray) and a.ndim else a for a in args]
        kernel[blocks, threads](*args)
    else:
        kernel[blocks, threads, stream](*args)


def bind(local_rank):
    """Make GPU ``HPCMIX_GPU`` (else ``local_rank`` mod the GPUs seen) current for cupy and numba-cuda; its
    index (None in the simulator)."""
    if simulated():
        return None
    import cupy
    from numba import cuda
    count = cupy.cuda.runtime.getDeviceCount()
    chosen = os.environ.get("HPCMIX_GPU")
    index = local_rank % count if chosen is None else int(chosen)
    if not 0 <= index < count:
        raise BackendUnavailable(f"HPCMIX_GPU={chosen} but this process sees {count} GPU(s)")
    cupy.cuda.Device(index).use()
    cuda.select_device(index)
    return index


def name(index):
    """The model of GPU ``index`` (the simulator's name where None)."""
    if index is None:
        return "numba-cuda simulator"
    import cupy
    props = cupy.cuda.runtime.getDeviceProperties(index)
    return f"{props['name'].decode()} ({props['totalGlobalMem'] / 2**30:.0f} GiB)"


class Streams:
    """The compute stream (cupy's current stream, the one kernels launch on) and the halo stream; no-ops in
    the simulator, where everything runs in order on the host."""

    def __init__(self):
        self.compute = self.halo = None
        if simulated():
            return
        import cupy
        from numba import cuda
        self.compute, self.halo = cupy.cuda.Stream(non_blocking=True), cupy.cuda.Stream(non_blocking=True)
        self.compute.use()
        self._numba = {s.ptr: cuda.external_stream(s.ptr) for s in (self.compute, self.halo)}

    def current(self):
        """The numba-cuda stream of cupy's current stream (what a kernel launched now is queued on)."""
        if self.compute is None:
            return None
        import cupy
        return self._numba[cupy.cuda.get_current_stream().ptr]

    @contextmanager
    def on_halo(self):
        """Queue the work inside on the halo stream, after everything queued on the compute stream so far;
        compute work queued afterwards waits for it, and the host waits for it at the end (so the host
        buffers its copies read may be reused; the compute stream's kernels run on meanwhile)."""
        if self.compute is None:
            yield
            return
        self.halo.wait_event(self.compute.record())
        with self.halo:
            yield
        self.compute.wait_event(self.halo.record())
        self.halo.synchronize()

    def synchronize(self):
        """Wait for the work of cupy's current stream (before MPI reads device memory)."""
        if self.compute is not None:
            import cupy
            cupy.cuda.get_current_stream().synchronize()
