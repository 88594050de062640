"""The vector space of half-lattice fields of one parity on a backend: what solvers see as ``op.space``.

It offers the same BLAS-1 as :class:`hpcmix.lattice.Lattice` (the canonical numpy arrays' space), so
one solver loop runs on either; here every operation is a backend kernel (``lincomb``, ``inner``,
``norm2``: float64 arithmetic and accumulation, fused where the backend has them), and its results
are stored in the precision of the field written. Where a solver names a dtype for a new field
(``np.complex128`` for its double accumulators) the field is stored in double; complex64 asks for
single unless the field already computes in complex64 (half and quarter fields keep their storage,
whose values complex64 holds exactly). Global sums go through the process grid.
"""

import numpy as np

from ..precision import DOUBLE, SINGLE
from .block import FieldBlock
from .field import Field


class FieldSpace:
    def __init__(self, layout, parity, backend, ncomp):
        self.layout, self.parity, self.backend, self.ncomp = layout, parity, backend, ncomp
        self.pg = layout.lattice.pg
        self._k = {name: backend.kernel(name) for name in ("lincomb", "inner", "norm2", "block_inner", "block_lincomb")}

    # ---- new fields -------------------------------------------------------------------------------
    def new(self, precision):
        """An uninitialized field of this space stored in ``precision``."""
        return Field.empty(self.layout, self.parity, precision, self.ncomp, self.backend)

    def block(self, n, precision):
        """A zero :class:`~hpcmix.fields.block.FieldBlock` of ``n`` fields of this space in ``precision``."""
        return FieldBlock(self.layout, self.parity, precision, self.ncomp, n, self.backend)

    def _precision(self, x, dtype):
        if dtype is None or np.dtype(dtype) == x.dtype:
            return x.precision
        return DOUBLE if np.dtype(dtype) == np.complex128 else SINGLE

    def zeros_like(self, x, dtype=None):
        """A zero field like ``x`` (stored as ``x`` is, or as ``dtype`` asks)."""
        return Field.zeros(self.layout, self.parity, self._precision(x, dtype), self.ncomp, self.backend)

    def copy(self, x, dtype=None):
        """A copy of ``x`` (stored as ``x`` is, or as ``dtype`` asks)."""
        out = self.new(self._precision(x, dtype))
        self._k["lincomb"](out, (1.0,), (x,))
        return out

    def convert(self, x, precision, dtype=None):
        """``x`` rounded to ``precision`` (``x`` itself where it is stored so and no ``dtype`` is asked);
        with ``dtype`` (complex128) the rounded values held in double."""
        if dtype is None and x.precision is precision:
            return x
        out = self.new(precision)
        self._k["lincomb"](out, (1.0,), (x,))
        return out if dtype is None else self.copy(out, dtype)

    def random_like(self, x, rng):
        """A double field like ``x``: every real component standard normal (``rng``: numpy Generator)."""
        out = Field.zeros(self.layout, self.parity, DOUBLE, x.ncomp, self.backend)
        out.local[...] = self.backend.asarray(rng.standard_normal(out.local.shape))
        return out

    # ---- BLAS-1 (in place, results in the precision of the field written) -------------------------
    def zero(self, x):
        """x = 0 in place; returns x."""
        x.data[...] = 0
        if x.norm is not None:
            x.norm[...] = 0
        return x

    def axpy(self, a, x, y):
        """y += a x in place (a real or complex); returns y."""
        self._k["lincomb"](y, (a,), (x,), accumulate=True)
        return y

    caxpy = axpy

    def xpay(self, x, a, y):
        """y = x + a y in place; returns y."""
        self._k["lincomb"](y, (1.0, a), (x, y))
        return y

    def axpbypz(self, a, x, b, y, z):
        """z += a x + b y in place; returns z."""
        self._k["lincomb"](z, (a, b), (x, y), accumulate=True)
        return z

    def axpy_norm2(self, a, x, y):
        """y += a x in place; returns the global |y|^2 of the stored y (float64)."""
        return self.pg.sum(self._k["lincomb"](y, (a,), (x,), accumulate=True, norm=True))

    def lincomb(self, out, coeffs, fields):
        """out = sum_i c_i f_i (stored in ``out``'s precision); returns out."""
        self._k["lincomb"](out, tuple(coeffs), tuple(fields))
        return out

    def block_lincomb(self, out, coeffs, block, accumulate=False):
        """out = sum_i c_i block[i] (+ out where ``accumulate``), one pass over the block; returns out."""
        self._k["block_lincomb"](out, tuple(coeffs), block, accumulate)
        return out

    # ---- reductions (float64, global) ---------------------------------------------------------------
    def block_inner(self, block, x):
        """Global <block[i], x> for every i (complex128[n]), one pass over x."""
        return self.pg.sum_array(self._k["block_inner"](block, x))

    def inner(self, a, b):
        """Global <a, b> = sum conj(a) b."""
        return self.pg.sum(self._k["inner"](a, b))

    def norm2(self, a):
        """Global |a|^2."""
        return self.pg.sum(self._k["norm2"](a))

    def __repr__(self):
        return f"<FieldSpace parity {self.parity}, {self.ncomp} reals per site, backend {self.backend.name}>"
