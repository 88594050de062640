"""The numba CPU backend: generated, fused, multithreaded kernels over the row layout.

Stencils are compiled from the per-site statements of :mod:`hpcmix.backends.kernels` inside the
row loop of :mod:`hpcmix.backends.kernels.rowloop` (one variant per storage kind, reconstruct and
compute type, cached on disk). Fixed-point fields and compressed links are decoded in the kernel.
Threads: numba's (``NUMBA_NUM_THREADS``, default all cores). ``compile_seconds`` adds up the time
spent loading and compiling kernels in this process, to report apart from solve time.
"""

import time

import numpy as np

from .base import Backend, BackendUnavailable
from .kernels import rowloop, wilson


class NumbaBackend(Backend):
    name = "numba"
    description = "numba CPU (generated row kernels, vectorized across sites, multithreaded)"

    @classmethod
    def check_available(cls):
        try:
            import numba  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(f"numba cannot be imported ({exc}); pip install numba") from None

    def __init__(self, local_rank=0):
        super().__init__(local_rank)
        self.compile_seconds = 0.0
        self._compiled, self._first_call = {}, set()
        self.kernels = {"wilson_hop": self.wilson_hop}   # the rest: the numpy reference (Backend.kernel)

    @property
    def xp(self):
        return np

    def asarray(self, host_array):
        return np.asarray(host_array)

    # ---- compiled kernels ------------------------------------------------------------------------
    def _wilson_kernel(self, reconstruct, in_fixed, out_fixed, compute, xh):
        """The generated Wilson hop for this storage kind, reconstruct, compute type and row length
        (loaded once per process; numba compiles it on the first call or loads it from its cache)."""
        key = (reconstruct, in_fixed, out_fixed, compute, rowloop.chunk_lanes(xh))
        if key not in self._compiled:
            body = wilson.hop(reconstruct, lambda d, k: f"L{d}_{k}")
            self._compiled[key] = rowloop.load(rowloop.hop_kernel_source(body, 24, *key))
            self._first_call.add(key)
        return key

    def _run(self, key, *args):
        """Call the kernel of ``key``, its first call's time counted in ``compile_seconds``."""
        t0 = time.perf_counter()
        self._compiled[key](*args)
        if key in self._first_call:
            self._first_call.discard(key)
            self.compile_seconds += time.perf_counter() - t0

    def wilson_hop(self, out, psi, links, halo, rows):
        compute = np.dtype(psi.precision.real_dtype).name
        key = self._wilson_kernel(links.reconstruct, psi.norm is not None, out.norm is not None, compute,
                                  out.layout.xh)
        p = out.parity
        dummy = np.ones((1, 1), np.float32)
        scale = getattr(out.precision, "scale", 0)
        self._run(key, out.data, out.norm if out.norm is not None else dummy, psi.data,
                  psi.norm if psi.norm is not None else dummy, halo.cg, halo.cgn, links.params[p], links.scale,
                  links.phase[p], out.layout.row_parity[p], out.layout.row_neighbour, rows,
                  psi.precision.real_dtype.type(scale))
