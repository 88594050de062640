"""P and P^dag of the finest multigrid level on the backend's even-odd fields, without the canonical layout.

The transfer's basis (:class:`~.transfer.Transfer`) is held as n_vec whole-lattice fields U_k = P (e_k + e_{n_vec +
k}) (basis vector k of both chiralities on every block) in the row layout, in the precision of the transfer's dtype
(single for complex64, double for complex128); on each block B and chirality s, U_k is V_{B,s,k}. Then

    (P^dag x)_B[s n_vec + k] = sum over B's sites of both parities and chirality s's components of conj(U_k) x,
    (P c)(site)              = sum_k U_k(site) c_B[s n_vec + k] on the components of chirality s,

the backend's ``aggregate_inner`` and ``aggregate_lincomb`` kernels (:mod:`hpcmix.backends.kernels.aggregate`),
given each parity's aggregate tables: its rows grouped by coarse row (tc, zc, yc), the row parities, and the
coarse x of each lane. Coarse fields are canonical arrays ``[Tc, Zc, Yc, Xc, 2 n_vec]`` in the transfer's dtype,
as :class:`~.transfer.Transfer`'s.
"""

import numpy as np

from ...fields.field import Field
from ...precision import DOUBLE, SINGLE


def aggregate_tables(layout, parity, block):
    """(groups[G, R], rpar[nrows], lane_xc[2, Xh]) of ``parity``'s rows for blocks of ``block = [bx, by, bz,
    bt]`` sites (the module doc's tables; G = Tc Zc Yc local coarse rows of R = bt bz by rows each)."""
    X, Y, Z, T = layout.local_dims
    bx, by, bz, bt = block
    t, z, y = (c[:, 0] for c in layout.site_index(parity)[:3])
    group = ((t // bt) * (Z // bz) + z // bz) * (Y // by) + y // by
    groups = np.argsort(group, kind="stable").reshape(-1, bt * bz * by).astype(np.int32)
    lanes = 2 * np.arange(layout.xh)[None, :] + np.arange(2)[:, None]
    return groups, layout.row_parity[parity].astype(np.int32), (lanes // bx).astype(np.int32)


class RowTransfer:
    """``transfer`` (a :class:`~.transfer.Transfer` of the finest level) on the row-layout fields of ``fields``
    (a WilsonFields): its basis per parity in the kernels' order, and the aggregate tables, built once."""

    def __init__(self, transfer, fields):
        self.transfer, self.n_vec = transfer, transfer.n_vec
        self.precision = DOUBLE if transfer.basis.dtype == np.complex128 else SINGLE
        self.coarse_shape = transfer.blocking.coarse_shape
        layout, backend = fields.layout, fields.backend
        self.tables = [aggregate_tables(layout, p, transfer.blocking.block) for p in (0, 1)]
        real = np.float64 if self.precision is DOUBLE else np.float32
        rows = [np.empty((layout.nrows, self.n_vec, 24, layout.xh), real) for _ in (0, 1)]
        for k, u in enumerate(transfer.vectors()):
            for p in (0, 1):
                rows[p][:, k] = Field.from_canonical(layout, p, self.precision, u.reshape(u.shape[:4] + (4, 3)),
                                                     backend).local
        #: per parity, the basis in the order the kernels stream it: [G, R, n_vec, 24, Xh]
        self.basis = [backend.asarray(r[t[0]]) for r, t in zip(rows, self.tables)]
        self._inner, self._lincomb = backend.kernel("aggregate_inner"), backend.kernel("aggregate_lincomb")

    def restrict(self, x):
        """P^dag x of a FullField ``x``: the coarse canonical array in the basis's dtype."""
        tc, zc, yc, xc = self.coarse_shape
        out = np.zeros((tc * zc * yc, xc, 2, self.n_vec), np.complex128)
        for p in (0, 1):
            self._inner(out, self.basis[p], x[p], *self.tables[p])
        return out.reshape(self.coarse_shape + (2 * self.n_vec,)).astype(self.transfer.basis.dtype)

    def prolong(self, c, out):
        """P c into the FullField ``out`` (its precision; computed in the basis's); returns ``out``."""
        tc, zc, yc, xc = self.coarse_shape
        coeffs = np.asarray(c).reshape(tc * zc * yc, xc, 2, self.n_vec)
        for p in (0, 1):
            self._lincomb(out[p], coeffs, self.basis[p], *self.tables[p])
        return out

    def prolonged(self, c, space, precision):
        """P c as a new FullField of ``space`` (the fine operator's) in ``precision`` (fixed point: prolonged in the
        basis's precision, then converted)."""
        if not precision.has_norm:
            return self.prolong(c, space.new(precision))
        return space.convert(self.prolong(c, space.new(self.precision)), precision)
