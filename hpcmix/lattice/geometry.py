"""The distributed lattice: global extents ``[X, Y, Z, T]``, this rank's box, parities.

Local arrays are indexed ``[t, z, y, x, ...]`` (x fastest); direction mu = 0..3 is x, y, z, t and
array axis ``3 - mu``. Site parity is (x + y + z + t) mod 2 on global coordinates.
"""

import numpy as np

from ..comm import ProcessGrid
from .block import ArrayBlock


class Lattice:
    def __init__(self, dims, grid=None, comm=None):
        self.pg = ProcessGrid(dims, grid, comm)
        self.dims = list(self.pg.dims)
        self.local_dims = list(self.pg.local_dims)
        self.offset = list(self.pg.offset)
        self.shape = tuple(self.local_dims[::-1])  # (T, Z, Y, X) local
        self.global_shape = tuple(self.dims[::-1])
        self.volume = int(np.prod(self.dims))
        self.local_volume = int(np.prod(self.local_dims))
        self._parity = None

    # ---- coordinates ---------------------------------------------------------------------------
    def coordinate(self, mu):
        """Global coordinate x_mu of every local site, shaped to broadcast over ``self.shape``."""
        c = np.arange(self.local_dims[mu]) + self.offset[mu]
        shape = [1, 1, 1, 1]
        shape[3 - mu] = self.local_dims[mu]
        return c.reshape(shape)

    @property
    def parity(self):
        """(x + y + z + t) mod 2 of every local site (global coordinates)."""
        if self._parity is None:
            self._parity = (sum(self.coordinate(mu) for mu in range(4)) % 2).astype(np.int8)
        return self._parity

    def box(self):
        """This rank's part of the canonical ``[t, z, y, x]`` array as a tuple of slices."""
        return tuple(slice(o, o + n) for o, n in zip(self.offset[::-1], self.local_dims[::-1]))

    def global_index(self):
        """Lexicographic global site index t*ZYX + z*YX + y*X + x of every local site (int64)."""
        X, Y, Z, _ = self.dims
        return (((self.coordinate(3) * Z + self.coordinate(2)) * Y + self.coordinate(1)) * X
                + self.coordinate(0)).astype(np.int64)

    def owns(self, site):
        """Whether global site ``[x, y, z, t]`` is on this rank; returns its local index tuple or None."""
        local = [s - o for s, o in zip(site, self.offset)]
        if all(0 <= c < n for c, n in zip(local, self.local_dims)):
            return tuple(local[::-1])
        return None

    # ---- reductions and communication ---------------------------------------------------------
    def inner(self, a, b):
        """Global <a, b> = sum conj(a) b, accumulated in complex128."""
        return self.pg.sum(np.vdot(a.astype(np.complex128, copy=False).ravel(),
                                   b.astype(np.complex128, copy=False).ravel()))

    def block_inner(self, block, x):
        """Global <block[i], x> for every field of ``block`` (an :class:`ArrayBlock`): complex128[n],
        accumulated in complex128, one global sum for all n."""
        v = block.data.reshape(len(block), x.size)
        return self.pg.sum_array(v.conj().astype(np.complex128) @ x.astype(np.complex128, copy=False).ravel())

    def norm2(self, a):
        """Global |a|^2 accumulated in float64."""
        a = a.astype(np.complex128, copy=False).ravel()
        return self.pg.sum(np.vdot(a, a).real)

    def shift(self, array, mu, k=1):
        """``out[x] = array[x + k mu]`` with periodic wrap over the global lattice."""
        return self.pg.shift(array, mu, k)

    def gather(self, local, root=0):
        """The canonical global array on ``root`` (None elsewhere) from every rank's local part."""
        if self.pg.size == 1:
            return local.copy()
        parts = self.pg.cart.gather((self.box(), np.ascontiguousarray(local)), root=root)
        if self.pg.rank != root:
            return None
        out = np.empty(self.global_shape + local.shape[4:], dtype=local.dtype)
        for box, part in parts:
            out[box] = part
        return out

    def allgather(self, local):
        """The canonical global array on every rank."""
        return self.pg.bcast(self.gather(local))

    def scatter(self, global_array):
        """This rank's part of a canonical global array present on every rank."""
        return np.ascontiguousarray(global_array[self.box()])

    def zeros(self, inner_shape, dtype=np.complex128):
        return np.zeros(self.shape + tuple(inner_shape), dtype=dtype)

    # ---- BLAS-1 on fields (the numpy reference; a backend may replace them with fused kernels) ---
    # Solvers do every vector update through these, so that the arithmetic of a step is one named
    # operation. Each keeps numpy's rules for the result's type (y's dtype for the in-place ones).
    def block(self, n, precision):
        """A zero :class:`~hpcmix.lattice.block.ArrayBlock` of ``n`` fields in ``precision`` (shaped by
        the first field stored in it)."""
        return ArrayBlock(self, n, precision)

    def zeros_like(self, x, dtype=None):
        """A zero field shaped like ``x`` (``dtype``, default ``x``'s)."""
        return np.zeros_like(x, dtype=dtype)

    def copy(self, x, dtype=None):
        """A copy of ``x`` (as ``dtype``, default ``x``'s)."""
        return np.array(x, dtype=dtype)

    def convert(self, x, precision, dtype=None):
        """A new array holding ``x`` as stored in ``precision`` (``precision.round``), of ``precision``'s
        compute dtype or ``dtype``."""
        out = precision.round(x, 4)
        return out if dtype is None else out.astype(dtype, copy=False)

    def random_like(self, x, rng):
        """A complex128 field shaped like ``x``: re and im standard normal (``rng``: numpy Generator)."""
        return rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)

    def zero(self, x):
        """x = 0 in place; returns x."""
        x[...] = 0
        return x

    def axpy(self, a, x, y):
        """y += a x in place (a real or complex); returns y."""
        y += a * x
        return y

    caxpy = axpy   # the complex-scalar form (one kernel in numpy; a fused backend may split them)

    def xpay(self, x, a, y):
        """y = x + a y in place; returns y."""
        np.multiply(a, y, out=y)   # a y, not y a: the same rounding as x + a * y where the product fuses
        y += x
        return y

    def axpbypz(self, a, x, b, y, z):
        """z += a x + b y in place (BiCGstab's solution update, QUDA's caxpbypz); returns z."""
        z += a * x + b * y
        return z

    def axpy_norm2(self, a, x, y):
        """y += a x in place; returns the global |y|^2 (float64)."""
        return self.norm2(self.axpy(a, x, y))

    def lincomb(self, out, coeffs, fields):
        """out = sum_i c_i f_i, summed in complex128 and written in ``out``'s dtype (``out`` may be one of
        the ``fields``); returns out."""
        out[...] = sum(c * f.astype(np.complex128, copy=False) for c, f in zip(coeffs, fields))
        return out

    def block_lincomb(self, out, coeffs, block, accumulate=False):
        """out = sum_i c_i block[i] (+ out where ``accumulate``), summed in complex128 and written in
        ``out``'s dtype; returns out."""
        total = np.tensordot(np.asarray(coeffs, dtype=np.complex128), block.data, axes=1)
        out[...] = total + out if accumulate else total
        return out
