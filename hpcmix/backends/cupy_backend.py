"""The ``cupy`` GPU backend: fields in device memory (cupy arrays and its memory pool), numba-cuda kernels.

Under numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1``) the same kernels run on host numpy arrays, so
they are tested without a GPU (:mod:`hpcmix.backends.cuda.device`). Kernels of its own, generated from the
per-site sources of the numba CPU backend (:mod:`hpcmix.backends.cuda.sources`): ``wilson_hop`` and
``staggered_hop`` (every storage and reconstruct the CPU kernels take), ``lincomb``, ``inner`` and
``norm2``; every other kernel is the numpy reference's (on a GPU those still need host arrays).
"""

import numpy as np

from . import reference
from .base import Backend
from .cuda import device, sources
from .kernels import rowloop, staggered, wilson
from .numba_backend import fixed_point, scale_of
from ..fields.layout import EvenOddLayout


class CupyBackend(Backend):
    name = "cupy"
    description = "CUDA GPU (cupy arrays, numba-cuda kernels; NUMBA_ENABLE_CUDASIM=1: numba-cuda's simulator)"

    @classmethod
    def check_available(cls):
        device.check()

    def __init__(self, local_rank=0):
        super().__init__(local_rank)
        device.bind(local_rank)
        self._compiled = {}
        self._ones = self.asarray(np.ones((1, 1, 1), np.float32))       # norms of IEEE fields, phases of phased links
        self.kernels = {name: getattr(self, name) for name in ("wilson_hop", "staggered_hop", "lincomb", "inner",
                                                              "norm2")}

    @property
    def xp(self):
        return device.array_module()

    def to_host(self, array):
        return array if self.xp is np else self.xp.asnumpy(array)

    def _norm(self, field):
        return field.norm if field.norm is not None else self._ones[0]

    def _launch(self, key, make_source, sites, *args):
        """Run the kernel of ``key`` (compiled from ``make_source()`` once per process) on ``sites`` sites."""
        if key not in self._compiled:
            self._compiled[key] = rowloop.load(make_source())
        if sites:
            device.launch(self._compiled[key], *device.shape(sites, sources.BLOCK), args)

    def _partials(self, sites):
        """A float64 array for the partial sums of the blocks of a launch on ``sites`` sites."""
        return self.xp.zeros(device.shape(sites, sources.BLOCK)[0])

    # ---- stencils ------------------------------------------------------------------------------------
    def _hop(self, kind, out, psi, links, halo, rows):
        kp, ko = fixed_point(psi), fixed_point(out)
        if kp is None or ko is None:
            return getattr(reference, f"{kind}_hop")(out, psi, links, halo, rows)
        ndir, phased, rec = links.params[0].shape[1], links.phase is not None, links.reconstruct
        ncomp, real = (24 if kind == "wilson" else 6), psi.precision.real_dtype
        lay, p = out.layout, out.parity

        def source():
            link = "L{}_{}".format
            body = wilson.hop(rec, link, phased) if kind == "wilson" else staggered.hop(rec, link, ndir, phased)
            xoff = tuple(EvenOddLayout.lane_shift(d) for d in range(ndir))
            return sources.hop_source(body, ncomp, rec, kp, ko, real.name, xoff, phased)

        phase = self._ones if links.phase is None else links.phase[p]
        self._launch((kind, ndir, phased, rec, kp, ko, real.name), source, len(rows) * lay.xh,
                     out.data, self._norm(out), psi.data, self._norm(psi), self.asarray(halo.cg),
                     self.asarray(halo.cgn), links.params[p], self.asarray(links.scale), phase,
                     self.asarray(lay.row_parity[p]), self.asarray(lay.row_neighbour), self.asarray(rows),
                     real.type(scale_of(out)))

    def wilson_hop(self, out, psi, links, halo, rows):
        return self._hop("wilson", out, psi, links, halo, rows)

    def staggered_hop(self, out, psi, links, halo, rows):
        return self._hop("staggered", out, psi, links, halo, rows)

    # ---- BLAS-1: float64 arithmetic, float64 sums per block ------------------------------------------
    def lincomb(self, out, coeffs, fields, accumulate=False, norm=False):
        kinds, ko = tuple(fixed_point(f) for f in fields), fixed_point(out)
        if None in kinds or ko is None or not fields:
            return reference.lincomb(out, coeffs, fields, accumulate, norm)
        c = np.array([complex(v) for v in coeffs])
        sites = out.layout.half_volume
        partial = self._partials(sites)
        args = [a for f in fields for a in (f.data, self._norm(f))]
        self._launch(("lincomb", kinds, ko, accumulate, norm, out.ncomp),
                     lambda: sources.lincomb_source(kinds, ko, accumulate, norm, out.ncomp), sites,
                     out.data, self._norm(out), *args, self.asarray(np.ascontiguousarray(c.real)),
                     self.asarray(np.ascontiguousarray(c.imag)), scale_of(out), out.layout.nrows, partial)
        return float(partial.sum()) if norm else None

    def inner(self, a, b):
        ka, kb = fixed_point(a), fixed_point(b)
        if ka is None or kb is None:
            return reference.inner(a, b)
        sites = a.layout.half_volume
        pre, pim = self._partials(sites), self._partials(sites)
        self._launch(("reduce", ka, kb), lambda: sources.reduce_source(ka, kb), sites,
                     a.data, self._norm(a), b.data, self._norm(b), a.layout.nrows, pre, pim)
        return complex(float(pre.sum()), float(pim.sum()))

    def norm2(self, a):
        return self.inner(a, a).real
