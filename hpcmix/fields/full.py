"""A whole-lattice field as its two parities, and its vector space (for the full system M x = b of an
even-odd solve: its right-hand side, solution and true residual).

:class:`FullField` pairs the even and the odd half-lattice :class:`~hpcmix.fields.field.Field`;
:class:`FullSpace` applies each BLAS-1 operation of :class:`~hpcmix.fields.space.FieldSpace` to both
parities and adds their reductions.
"""

import numpy as np


class FullField:
    __slots__ = ("parts",)

    def __init__(self, even, odd):
        self.parts = (even, odd)

    @property
    def dtype(self):
        return np.result_type(*self.parts)

    def __getitem__(self, parity):
        return self.parts[parity]


class FullSpace:
    def __init__(self, spaces):
        self.spaces = tuple(spaces)

    def _each(self, method, *args):
        """``method`` of each parity's space on the parity's parts of the FullField arguments."""
        return [getattr(sp, method)(*[a[p] if isinstance(a, FullField) else a for a in args])
                for p, sp in enumerate(self.spaces)]

    def zeros_like(self, x, dtype=None):
        return FullField(*self._each("zeros_like", x, dtype))

    def copy(self, x, dtype=None):
        return FullField(*self._each("copy", x, dtype))

    def convert(self, x, precision, dtype=None):
        return FullField(*self._each("convert", x, precision, dtype))

    def random_like(self, x, rng):
        return FullField(*self._each("random_like", x, rng))

    def zero(self, x):
        self._each("zero", x)
        return x

    def axpy(self, a, x, y):
        self._each("axpy", a, x, y)
        return y

    caxpy = axpy

    def xpay(self, x, a, y):
        self._each("xpay", x, a, y)
        return y

    def axpbypz(self, a, x, b, y, z):
        self._each("axpbypz", a, x, b, y, z)
        return z

    def axpy_norm2(self, a, x, y):
        return sum(self._each("axpy_norm2", a, x, y))

    def lincomb(self, out, coeffs, fields):
        return FullField(*(sp.lincomb(out[p], coeffs, [f[p] for f in fields]) for p, sp in enumerate(self.spaces)))

    def norm2(self, a):
        return sum(self._each("norm2", a))

    def inner(self, a, b):
        return sum(self._each("inner", a, b))
