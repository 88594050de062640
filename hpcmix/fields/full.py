"""A whole-lattice field as its two parities, and its vector space (for the full system M x = b of an
even-odd solve: its right-hand side, solution and true residual).

:class:`FullField` pairs the even and the odd half-lattice :class:`~hpcmix.fields.field.Field`,
:class:`FullBlock` the two parities' :class:`~hpcmix.fields.block.FieldBlock` (n whole-lattice fields);
:class:`FullSpace` applies each BLAS-1 and block operation of :class:`~hpcmix.fields.space.FieldSpace` to
both parities and adds their reductions.
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


class FullBlock:
    """n whole-lattice fields: ``parts[p]`` the FieldBlock of their parity-p halves; ``block[i]`` is the
    FullField of the two halves i (a view)."""

    __slots__ = ("parts",)

    def __init__(self, even, odd):
        self.parts = (even, odd)

    @property
    def precision(self):
        return self.parts[0].precision

    def head(self, n):
        return FullBlock(*(b.head(n) for b in self.parts))

    def part(self, start, stop):
        return FullBlock(*(b.part(start, stop) for b in self.parts))

    def take(self, index):
        return FullBlock(*(b.take(index) for b in self.parts))

    def assign(self, start, other):
        for mine, theirs in zip(self.parts, other.parts):
            mine.assign(start, theirs)

    def store(self, i, scale, w):
        return FullField(*(b.store(i, scale, w[p]) for p, b in enumerate(self.parts)))

    def __len__(self):
        return len(self.parts[0])

    def __getitem__(self, i):
        return FullField(*(b[i] for b in self.parts))

    def __repr__(self):
        return f"<FullBlock of {len(self)} whole-lattice fields, {self.precision.name}>"


class FullSpace:
    def __init__(self, spaces):
        self.spaces = tuple(spaces)

    def _each(self, method, *args):
        """``method`` of each parity's space on the parity's parts of the FullField arguments."""
        return [getattr(sp, method)(*[a[p] if isinstance(a, FullField) else a for a in args])
                for p, sp in enumerate(self.spaces)]

    def new(self, precision):
        return FullField(*(sp.new(precision) for sp in self.spaces))

    def block(self, n, precision):
        """A zero :class:`FullBlock` of ``n`` fields in ``precision``."""
        return FullBlock(*(sp.block(n, precision) for sp in self.spaces))

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

    def block_lincomb(self, out, coeffs, block, accumulate=False):
        for p, sp in enumerate(self.spaces):
            sp.block_lincomb(out[p], coeffs, block.parts[p], accumulate)
        return out

    def block_inner(self, block, x):
        """<block[i], x> = sum over the parities p of <block.parts[p][i], x[p]> (complex128[n], global)."""
        return sum(sp.block_inner(block.parts[p], x[p]) for p, sp in enumerate(self.spaces))

    def norm2(self, a):
        return sum(self._each("norm2", a))

    def inner(self, a, b):
        return sum(self._each("inner", a, b))
