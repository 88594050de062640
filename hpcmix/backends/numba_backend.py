"""The numba CPU backend: generated, fused, multithreaded kernels over the row layout.

Stencils are compiled from the per-site statements of :mod:`hpcmix.backends.kernels` inside the
row loop of :mod:`hpcmix.backends.kernels.rowloop` (one variant per storage kind, reconstruct and
compute type, cached on disk). Fixed-point fields and compressed links are decoded in the kernel.
Threads: numba's (``NUMBA_NUM_THREADS``, default all cores). ``compile_seconds`` adds up the time
spent loading and compiling kernels in this process, to report apart from solve time.
"""

import time

import numpy as np

from . import reference
from .base import Backend, BackendUnavailable


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
        self._compiled = {}
        self.kernels = dict(reference.KERNELS, wilson_hop=self.wilson_hop)

    @property
    def xp(self):
        return np

    def asarray(self, host_array):
        return np.asarray(host_array)

    @property
    def threads(self):
        import numba
        return numba.get_num_threads()

    # ---- compiled kernels ------------------------------------------------------------------------
    def _hop_kernel(self, what, reconstruct, in_fixed, out_fixed, compute, xh):
        from .kernels import rowloop
        lanes = rowloop.chunk_lanes(xh)
        key = (what, reconstruct, in_fixed, out_fixed, compute, lanes)
        if key not in self._compiled:
            from .kernels import wilson
            t0 = time.perf_counter()
            if what == "wilson":
                body, ncomp = wilson.hop(reconstruct, lambda d, k: f"L{d}_{k}"), 24
            else:
                raise KeyError(what)
            source = rowloop.hop_kernel_source(body, ncomp, reconstruct, in_fixed, out_fixed, compute, lanes)
            self._compiled[key] = [rowloop.load(source), False, t0]
        return self._compiled[key]

    def _run(self, entry, *args):
        fn = entry[0]
        if not entry[1]:
            t0 = time.perf_counter()
            fn(*args)
            self.compile_seconds += time.perf_counter() - t0   # first call: compiling (or loading the cache)
            entry[1] = True
            return
        fn(*args)

    def wilson_hop(self, out, psi, links, halo, rows):
        compute = np.dtype(psi.precision.real_dtype).name
        entry = self._hop_kernel("wilson", links.reconstruct, psi.norm is not None, out.norm is not None, compute,
                                 out.layout.xh)
        p = out.parity
        dummy = np.ones((1, 1), np.float32)
        scale = getattr(out.precision, "scale", 0)
        self._run(entry, out.data, out.norm if out.norm is not None else dummy, psi.data,
                  psi.norm if psi.norm is not None else dummy, halo.cg, halo.cgn, links.params[p], links.scale,
                  links.phase[p], out.layout.row_parity[p], out.layout.row_neighbour, rows,
                  psi.precision.real_dtype.type(scale))
