"""A block of half-lattice fields: n fields of one parity and precision in one array (the subspaces of
deflation and multigrid: eigenvectors, near-null vectors).

``data[i, row, k, xh]`` and ``norm[i, row, xh]`` hold field i in the layout of
:class:`~hpcmix.fields.field.Field` (ghost rows included, so ``block[i]`` is a field every operator
takes); the block kernels (``block_inner``, ``block_lincomb``) stream it once for all n fields.
"""

from .field import Field


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

    def head(self, n):
        """The first ``n`` fields, as a block (a view)."""
        return self.part(0, n)

    def part(self, start, stop):
        """Fields ``start`` .. ``stop`` - 1, as a block (a view)."""
        out = FieldBlock.__new__(FieldBlock)
        out.layout, out.parity, out.precision, out.ncomp, out.backend = (self.layout, self.parity, self.precision,
                                                                        self.ncomp, self.backend)
        out.data, out.norm = self.data[start:stop], None if self.norm is None else self.norm[start:stop]
        return out

    def __len__(self):
        return self.data.shape[0]

    def __getitem__(self, i):
        """Field i (a view: writing it writes the block)."""
        return Field(self.layout, self.parity, self.precision, self.ncomp, self.data[i],
                     None if self.norm is None else self.norm[i], self.backend)

    def __repr__(self):
        return f"<FieldBlock of {len(self)} fields, parity {self.parity}, {self.precision.name}>"
