"""A block of canonical fields: n arrays ``[t, z, y, x, site...]`` of one precision in one array
``data[i, t, z, y, x, site...]`` of the precision's compute dtype (the blocks of
:class:`~hpcmix.lattice.Lattice`, as :class:`~hpcmix.fields.block.FieldBlock` is a backend's).

Its fields hold values stored in the precision: ``store`` rounds as ``Lattice.convert`` does. The
lattice does not fix a field's site shape (a spinor's [4, 3], a staggered field's [3]), so a new block
takes it from the first field stored or assigned into it and has no fields to read before.
"""

import numpy as np

from ..errors import HpcmixError


class ArrayBlock:
    __slots__ = ("lattice", "precision", "n", "data")

    def __init__(self, lattice, n, precision, data=None):
        self.lattice, self.n, self.precision, self.data = lattice, n, precision, data

    def _array(self):
        if self.data is None:
            raise HpcmixError("a block of canonical arrays has no fields before one is stored in it (it takes "
                              "their site shape from the first)")
        return self.data

    def _allocate(self, field_shape):
        if self.data is None:
            self.data = np.zeros((self.n,) + tuple(field_shape), self.precision.compute_dtype)

    def head(self, n):
        """The first ``n`` fields, as a block (a view)."""
        return self.part(0, n)

    def part(self, start, stop):
        """Fields ``start`` .. ``stop`` - 1, as a block (a view)."""
        data = self._array()[start:stop]
        return ArrayBlock(self.lattice, len(data), self.precision, data)

    def take(self, index):
        """The fields ``index[0], index[1], ...`` (a sequence), as a new block (a copy)."""
        data = self._array()[list(index)]
        return ArrayBlock(self.lattice, len(data), self.precision, data)

    def assign(self, start, other):
        """Fields ``start`` .. ``start + len(other) - 1`` <- the fields of ``other`` (a block of this
        precision; copied as stored)."""
        self._allocate(other.data.shape[1:])
        self.data[start:start + len(other)] = other.data

    def store(self, i, scale, w):
        """Field i = scale w, stored in the block's precision; returns field i."""
        self._allocate(w.shape)
        self.data[i] = self.lattice.convert(scale * w.astype(np.complex128, copy=False), self.precision)
        return self.data[i]

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        """Field i (a view: writing it writes the block)."""
        return self._array()[i]

    def __repr__(self):
        return f"<ArrayBlock of {self.n} canonical fields, {self.precision.name}>"
