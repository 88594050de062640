"""Half-lattice fields in the even-odd row layout, stored in a precision, owned by a backend.

A :class:`Field` is the sites of one parity of a spinor (24 reals per site) or colour vector (6)
field, laid out as :mod:`hpcmix.fields.layout` says: ``data[row, k, xh]`` in the precision's storage
dtype (float64, float32, int16, int8, ...) and, where the precision keeps norms, ``norm[row, xh]``
(float32). Rows ``nrows ..`` are ghost rows (neighbours on other ranks), filled by a halo exchange;
``local`` and ``local_norm`` are the rows this rank owns. Fixed-point fields stay fixed point: kernels
decode them in registers. The canonical ``[t, z, y, x, ...]`` array exists only at I/O and in tests
(:meth:`from_canonical`, :meth:`to_canonical`).
"""

import numpy as np


class Field:
    __slots__ = ("layout", "parity", "precision", "ncomp", "data", "norm", "backend")

    def __init__(self, layout, parity, precision, ncomp, data, norm, backend):
        self.layout, self.parity, self.precision, self.ncomp = layout, parity, precision, ncomp
        self.data, self.norm, self.backend = data, norm, backend

    # ---- construction ---------------------------------------------------------------------------
    @classmethod
    def empty(cls, layout, parity, precision, ncomp, backend):
        rows = layout.nrows + layout.nghost
        data = backend.empty((rows, ncomp, layout.xh), precision.storage_dtype)
        norm = backend.empty((rows, layout.xh), precision.norm_dtype) if precision.has_norm else None
        return cls(layout, parity, precision, ncomp, data, norm, backend)

    @classmethod
    def zeros(cls, layout, parity, precision, ncomp, backend):
        f = cls.empty(layout, parity, precision, ncomp, backend)
        f.data[...] = 0
        if f.norm is not None:
            f.norm[...] = 0
        return f

    @classmethod
    def from_canonical(cls, layout, parity, precision, array, backend):
        """The sites of ``parity`` of the canonical local complex array ``array[t, z, y, x, ...]``,
        stored in ``precision`` (its ``encode_reals``; one norm per site for fixed point)."""
        rows = layout.to_rows(np.asarray(array, dtype=np.complex128), parity)       # [nrows, Xh, ...]
        reals = rows.reshape(rows.shape[:2] + (-1,)).view(np.float64)              # [nrows, Xh, ncomp]
        data, norm = precision.encode_reals(reals, 2)
        f = cls.zeros(layout, parity, precision, reals.shape[-1], backend)
        f.local[...] = backend.asarray(np.ascontiguousarray(np.swapaxes(data, 1, 2)))
        if norm is not None:
            f.local_norm[...] = backend.asarray(norm)
        return f

    def to_canonical(self, out, site_shape):
        """Write this field's sites (decoded to the compute dtype, as complex) into ``out[t, z, y, x, ...]``."""
        data = self.backend.to_host(self.local)
        norm = None if self.norm is None else self.backend.to_host(self.local_norm)
        reals = self.precision.decode_reals(np.ascontiguousarray(np.swapaxes(data, 1, 2)), norm, 2)
        values = np.ascontiguousarray(reals, dtype=np.float64).view(np.complex128)
        self.layout.from_rows(values.reshape(values.shape[:2] + tuple(site_shape)), self.parity, out)
        return out

    @property
    def dtype(self):
        """The complex compute dtype of the precision (what numpy's type rules see of a field)."""
        return self.precision.compute_dtype

    # ---- views ------------------------------------------------------------------------------------
    @property
    def local(self):
        """The rows this rank owns, ``data[:nrows]``."""
        return self.data[:self.layout.nrows]

    @property
    def local_norm(self):
        return None if self.norm is None else self.norm[:self.layout.nrows]

    def __repr__(self):
        return (f"<Field parity {self.parity}, {self.precision.name}, {self.ncomp} reals per site, "
                f"{self.layout.nrows} rows x {self.layout.xh} lanes on {self.backend.name}>")
