"""A block of half-lattice fields: n fields of one parity and precision in one array (the subspaces of
deflation and multigrid: eigenvectors, near-null vectors), and the block product W = V Q that every
space's blocks share.

``data[i, row, k, xh]`` and ``norm[i, row, xh]`` hold field i in the layout of
:class:`~hpcmix.fields.field.Field` (ghost rows included, so ``block[i]`` is a field every operator
takes); the block kernels (``block_inner``, ``block_lincomb``) stream it once for all n fields.

Every vector space's block (this one, :class:`~hpcmix.fields.full.FullBlock`,
:class:`~hpcmix.lattice.block.ArrayBlock`) offers ``len``, ``block[i]`` (field i, a view),
``head``/``part`` (views), ``take`` (a copy), ``store`` (field i = scale w, in the block's precision)
and ``assign`` (fields copied as stored), so solvers need no other.
"""

import numpy as np

from .field import Field


def block_times(sp, block, Q):
    """The new block W = V Q of space ``sp``: W_i = sum_j Q_ji V_j over the first n fields V_j of
    ``block`` (Q an n x q matrix), each summed in double by one ``block_lincomb`` and stored in the
    block's precision."""
    n, q = Q.shape
    head, out = block.head(n), sp.block(q, block.precision)
    w = sp.zeros_like(block[0], np.complex128)
    for i in range(q):
        out.store(i, 1.0, sp.block_lincomb(w, Q[:, i], head))
    return out


class FieldBlock:
    __slots__ = ("layout", "parity", "precision", "ncomp", "data", "norm", "backend")

    def __init__(self, layout, parity, precision, ncomp, n, backend):
        rows = layout.nrows + layout.nghost
        self.layout, self.parity, self.precision, self.ncomp, self.backend = layout, parity, precision, ncomp, backend
        self.data = backend.empty((n, rows, ncomp, layout.xh), precision.storage_dtype)
        self.norm = backend.empty((n, rows, layout.xh), precision.norm_dtype) if precision.has_norm else None
        self.data[...] = 0
        if self.norm is not None:
            self.norm[...] = 0

    def _with(self, index):
        """The fields ``data[index]`` as a block (a view for a slice, a copy for an index array)."""
        out = FieldBlock.__new__(FieldBlock)
        out.layout, out.parity, out.precision, out.ncomp, out.backend = (self.layout, self.parity, self.precision,
                                                                        self.ncomp, self.backend)
        out.data, out.norm = self.data[index], None if self.norm is None else self.norm[index]
        return out

    def head(self, n):
        """The first ``n`` fields, as a block (a view)."""
        return self.part(0, n)

    def part(self, start, stop):
        """Fields ``start`` .. ``stop`` - 1, as a block (a view)."""
        return self._with(slice(start, stop))

    def take(self, index):
        """The fields ``index[0], index[1], ...`` (a sequence), as a new block (a copy)."""
        return self._with(list(index))

    def assign(self, start, other):
        """Fields ``start`` .. ``start + len(other) - 1`` <- the fields of ``other`` (a block of this
        precision; copied as stored)."""
        stop = start + len(other)
        self.data[start:stop] = other.data
        if self.norm is not None:
            self.norm[start:stop] = other.norm

    def store(self, i, scale, w):
        """Field i = scale w (float64 arithmetic), stored in the block's precision; returns field i."""
        out = self[i]
        self.backend.kernel("lincomb")(out, (scale,), (w,))
        return out

    def __len__(self):
        return self.data.shape[0]

    def __getitem__(self, i):
        """Field i (a view: writing it writes the block)."""
        return Field(self.layout, self.parity, self.precision, self.ncomp, self.data[i],
                     None if self.norm is None else self.norm[i], self.backend)

    def __repr__(self):
        return f"<FieldBlock of {len(self)} fields, parity {self.parity}, {self.precision.name}>"
