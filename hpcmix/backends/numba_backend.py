"""The numba CPU backend: generated, fused, multithreaded kernels over the row layout.

Stencils are compiled from the per-site statements of :mod:`hpcmix.backends.kernels` inside the
row loop of :mod:`hpcmix.backends.kernels.rowloop` (one variant per storage kind, reconstruct and
compute type, cached on disk). Fixed-point fields and compressed links are decoded in the kernel.
Threads: ``NUMBA_NUM_THREADS`` where set, else the rank's share of its node's cores (``share_cores``).
``compile_seconds`` adds up the time spent loading and compiling kernels in this process, to report
apart from solve time.
"""

import contextlib
import os
import time

import numpy as np

from . import blas_threads, reference
from .base import Backend, BackendUnavailable
from ..fields.layout import EvenOddLayout
from .kernels import aggregate, blas, coarse, faces, rowloop, staggered, wilson

_DUMMY_NORM = np.ones((1, 1), np.float32)
_DUMMY_PHASE = _DUMMY_NORM_BLOCK = np.ones((1, 1, 1), np.float32)


def fixed_point(field):
    """True for fixed-point storage (integers with a float32 norm per site), False for float64/float32
    storage, None for a storage these kernels do not know (a plugin's: the reference runs it)."""
    data = field.data.dtype
    if field.norm is not None and data.kind == "i" and field.norm.dtype == np.float32:
        return True
    if field.norm is None and data in (np.float64, np.float32):
        return False
    return None


def _norm(field):
    return field.norm if field.norm is not None else _DUMMY_NORM


def _norm_block(block):
    return block.norm if block.norm is not None else _DUMMY_NORM_BLOCK


def scale_of(field):
    """The fixed-point scale of ``field``'s storage (1 for IEEE precisions)."""
    return float(getattr(field.precision, "scale", 1.0))


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
        blas_threads.beside_backend()
        self.compile_seconds = 0.0
        self._compiled, self._first_call = {}, {}      # key -> compile it with SLP vectorization
        self.kernels = {name: getattr(self, name) for name in (       # the rest: the numpy reference
            "wilson_hop", "staggered_hop", "wilson_face_pack", "wilson_face_unpack", "lincomb", "inner", "norm2",
            "site_blocks", "block_inner", "block_lincomb", "coarse_stencil", "aggregate_inner",
            "aggregate_lincomb")}

    @property
    def threads(self):
        import numba
        return numba.get_num_threads()

    def share_cores(self, ranks, cores):
        """Without ``NUMBA_NUM_THREADS``, each of the node's ``ranks`` ranks runs on cores // ranks threads
        (numba's default, every core per rank, oversubscribes a node under mpiexec)."""
        import numba
        if "NUMBA_NUM_THREADS" not in os.environ:
            numba.set_num_threads(max(1, min(numba.config.NUMBA_NUM_THREADS, cores // ranks)))

    @property
    def xp(self):
        return np

    def asarray(self, host_array):
        return np.asarray(host_array)

    # ---- compiled kernels ------------------------------------------------------------------------
    def _hop_kernel(self, kind, links, in_fixed, out_fixed, compute, xh):
        """The generated hop of ``kind`` ("wilson" or "staggered") for the directions, reconstruct and phases
        of ``links``, this storage kind, compute type and chunk width for rows of ``xh`` lanes (loaded once
        per process; numba compiles it on the first call or loads it from its cache)."""
        ndir, phased = links.params[0].shape[1], links.phase is not None
        link = lambda d, k: f"L{d}_{k}"  # noqa: E731
        if kind == "wilson":
            body, ncomp = (lambda: wilson.hop(links.reconstruct, link, phased)), 24
        else:
            body, ncomp = (lambda: staggered.hop(links.reconstruct, link, ndir, phased)), 6
        W, pack, row = rowloop.lanes(xh, compute, in_fixed or out_fixed, ncomp)
        key = (kind, ndir, phased, links.reconstruct, in_fixed, out_fixed, compute, W, pack, row)
        xoff = tuple(EvenOddLayout.lane_shift(d) for d in range(ndir))
        return self._generated(key, lambda: rowloop.hop_kernel_source(
            body(), ncomp, links.reconstruct, in_fixed, out_fixed, compute, W, xoff, phased, pack, row), slp=True)

    def _generated(self, key, make_source, slp=False):
        """The kernel of ``key`` compiled from ``make_source()`` (once per process; ``key`` names the
        array dtypes too, numba compiling one specialization per dtype signature); ``slp``: compile it with
        numba's SLP vectorizer on (the hop kernels, whose lane copies are written for it)."""
        if key not in self._compiled:
            self._compiled[key] = rowloop.load(make_source())
            self._first_call[key] = slp
        return key

    def _run(self, key, *args):
        """Call the kernel of ``key``; its first call compiles it (or loads it from the cache), with numba's SLP
        vectorizer on where :meth:`_generated` asked (:func:`~.kernels.rowloop.slp_vectorization`), its time
        counted in ``compile_seconds``."""
        slp = self._first_call.pop(key, None)
        if slp is None:
            self._compiled[key](*args)
            return
        t0 = time.perf_counter()
        with rowloop.slp_vectorization() if slp else contextlib.nullcontext():
            self._compiled[key](*args)
        self.compile_seconds += time.perf_counter() - t0

    # ---- BLAS-1 and site terms (float64 arithmetic, as the reference) ---------------------------------
    def lincomb(self, out, coeffs, fields, accumulate=False, norm=False):
        kinds, ko = tuple(fixed_point(f) for f in fields), fixed_point(out)
        if None in kinds or ko is None or not fields:
            return reference.lincomb(out, coeffs, fields, accumulate, norm)
        dtypes = tuple(f.data.dtype.str for f in (out,) + tuple(fields))
        key = self._generated(("lincomb", kinds, ko, accumulate, norm, dtypes),
                              lambda: blas.lincomb_source(kinds, ko, accumulate, norm))
        c = np.array([complex(v) for v in coeffs])
        partial = np.empty(out.layout.nrows)
        args = [a for f in fields for a in (f.data, _norm(f))]
        self._run(key, out.data, _norm(out), *args, np.ascontiguousarray(c.real), np.ascontiguousarray(c.imag),
                  scale_of(out), partial)
        return float(partial.sum()) if norm else None

    def inner(self, a, b):
        ka, kb = fixed_point(a), fixed_point(b)
        if ka is None or kb is None:
            return reference.inner(a, b)
        key = self._generated(("reduce", ka, kb, a.data.dtype.str, b.data.dtype.str), lambda: blas.reduce_source(ka, kb))
        pre, pim = np.empty(a.layout.nrows), np.empty(a.layout.nrows)
        self._run(key, a.data, _norm(a), b.data, _norm(b), pre, pim)
        return complex(pre.sum(), pim.sum())

    def norm2(self, a):
        return self.inner(a, a).real

    def block_inner(self, block, x):
        ka, kb = fixed_point(block), fixed_point(x)
        if ka is None or kb is None:
            return reference.block_inner(block, x)
        key = self._generated(("block_reduce", ka, kb, block.data.dtype.str, x.data.dtype.str),
                              lambda: blas.block_reduce_source(ka, kb))
        n, nrows = len(block), x.layout.nrows
        pre, pim = np.empty((n, nrows)), np.empty((n, nrows))
        self._run(key, block.data, _norm_block(block), x.data, _norm(x), pre, pim)
        return pre.sum(axis=1) + 1j * pim.sum(axis=1)

    def block_lincomb(self, out, coeffs, block, accumulate=False):
        kv, ko = fixed_point(block), fixed_point(out)
        if kv is None or ko is None:
            return reference.block_lincomb(out, coeffs, block, accumulate)
        key = self._generated(("block_lincomb", kv, ko, accumulate, block.data.dtype.str, out.data.dtype.str),
                              lambda: blas.block_lincomb_source(kv, ko, accumulate))
        c = np.array([complex(v) for v in coeffs])
        self._run(key, out.data, _norm(out), block.data, _norm_block(block), np.ascontiguousarray(c.real),
                  np.ascontiguousarray(c.imag), scale_of(out), np.empty(out.layout.nrows))
        return None

    def coarse_stencil(self, out, m, mn, v):
        """The multigrid coarse stencil (reference ``coarse_stencil``), accumulated in v's dtype."""
        fixed = mn is not None
        key = self._generated(("coarse_stencil", fixed, m.dtype.str, v.dtype.str),
                              lambda: coarse.coarse_stencil_source(fixed))
        self._run(key, out, m, mn if fixed else _DUMMY_NORM_BLOCK, v)

    def aggregate_inner(self, out, a, x, groups, rpar, lane_xc):
        """The multigrid restriction (reference ``aggregate_inner``)."""
        kx = fixed_point(x)
        if kx is None:
            return reference.aggregate_inner(out, a, x, groups, rpar, lane_xc)
        shape = aggregate.specialized(a, x.layout)
        key = self._generated(("aggregate_inner", kx, shape, a.dtype.str, x.data.dtype.str),
                              lambda: aggregate.aggregate_inner_source(kx, shape))
        outr, outi = np.zeros(out.shape, np.float64), np.zeros(out.shape, np.float64)
        self._run(key, a, x.data, _norm(x), groups, rpar, lane_xc, outr, outi)
        out += outr + 1j * outi
        return None

    def aggregate_lincomb(self, out, coeffs, a, groups, rpar, lane_xc):
        """The multigrid prolongation (reference ``aggregate_lincomb``) into an IEEE field."""
        if fixed_point(out) is not False:
            return reference.aggregate_lincomb(out, coeffs, a, groups, rpar, lane_xc)
        shape = aggregate.specialized(a, out.layout)
        key = self._generated(("aggregate_lincomb", shape, a.dtype.str, out.data.dtype.str),
                              lambda: aggregate.aggregate_lincomb_source(shape))
        self._run(key, out.data, a, np.ascontiguousarray(coeffs.real, a.dtype), np.ascontiguousarray(coeffs.imag, a.dtype),
                  groups, rpar, lane_xc)
        return None

    def wilson_face_pack(self, field, rows, d):
        kf = fixed_point(field)
        if kf is None:
            return reference.wilson_face_pack(field, rows, d)
        key = self._generated(("face_pack", kf, field.data.dtype.str), lambda: faces.pack_source(kf, kf))
        out = np.empty((rows.size, 12, field.layout.xh), field.data.dtype)
        outn = np.empty((rows.size, field.layout.xh), np.float32) if kf else _DUMMY_NORM
        S = reference.projector_block(d).astype(np.result_type(field.precision.real_dtype, np.complex64))
        self._run(key, field.data, _norm(field), rows, out, outn, scale_of(field), np.ascontiguousarray(S.real),
                  np.ascontiguousarray(S.imag))
        return out, (outn if kf else None)

    def wilson_face_unpack(self, field, where, data, norm, d):
        kf = fixed_point(field)
        if kf is None:
            return reference.wilson_face_unpack(field, where, data, norm, d)
        key = self._generated(("face_unpack", kf, field.data.dtype.str), lambda: faces.unpack_source(kf))
        T = reference.projector_block(d).conj().T
        self._run(key, field.data, _norm(field), where.start, data, norm if kf else _DUMMY_NORM,
                  np.ascontiguousarray(T.real), np.ascontiguousarray(T.imag), 1.0 if kf else 0.5)
        return None

    def site_blocks(self, out, x, blocks):
        kx, ko = fixed_point(x), fixed_point(out)
        if kx is None or ko is None:
            return reference.site_blocks(out, x, blocks)
        key = self._generated(("site_blocks", kx, ko, x.data.dtype.str, out.data.dtype.str, blocks.dtype.str), lambda: blas.site_blocks_source(kx, ko))
        self._run(key, out.data, _norm(out), x.data, _norm(x), blocks, scale_of(out), np.empty(out.layout.nrows))
        return None

    def _hop(self, kind, out, psi, links, halo, rows):
        kp, ko = fixed_point(psi), fixed_point(out)
        if kp is None or ko is None:
            return getattr(reference, f"{kind}_hop")(out, psi, links, halo, rows)
        real = psi.precision.real_dtype
        key = self._hop_kernel(kind, links, kp, ko, real.name, out.layout.xh)
        p = out.parity
        phase = _DUMMY_PHASE if links.phase is None else links.phase[p]
        self._run(key, out.data, _norm(out), psi.data, _norm(psi), halo.cg, halo.cgn, links.params[p], links.scale,
                  phase.astype(real, copy=False), out.layout.row_parity[p], out.layout.row_neighbour, rows,
                  real.type(scale_of(out)))

    def wilson_hop(self, out, psi, links, halo, rows):
        return self._hop("wilson", out, psi, links, halo, rows)

    def staggered_hop(self, out, psi, links, halo, rows):
        return self._hop("staggered", out, psi, links, halo, rows)
