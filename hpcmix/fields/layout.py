"""The even-odd row layout of half-lattice fields (the layout every backend's stencil kernels read).

A half-lattice field holds the local sites of one parity p = (x + y + z + t) mod 2 (global
coordinates). Its sites are grouped in *rows*: one row per local (t, z, y), row index
``row = (t * Z + z) * Y + y``, and within a row the ``Xh = X / 2`` sites of parity p, lane
``xh = 0 .. Xh - 1`` at local ``x = 2 xh + r_p(row)`` with the *row parity*

    r_p(row) = (p + x0 + y + z + t + y0 + z0 + t0) mod 2        (x0 .. t0: this rank's offset).

Storage is a structure of arrays per row (AoSoA): ``data[row, k, xh]`` with k the real component
(``2 * (3 * spin + color) + re/im`` for a Wilson spinor, ``2 * color + re/im`` for a staggered
vector) and, for fixed-point precisions, ``norm[row, xh]``. A row's components are contiguous per
component, so a kernel loads the same component of neighbouring sites as one vector.

Neighbours. The neighbour of (row, xh) of parity p in direction +-mu has parity 1 - p and

* mu = y, z, t: the same lane ``xh`` of the neighbouring row (``row_neighbour[d, row]``);
* mu = x: the same row, lane ``xh + r_p(row)`` forward and ``xh + r_p(row) - 1`` backward;

so a whole row of neighbours is one row (y, z, t) or one row shifted by a lane (x). Where a lane
leaves the row (xh + 1 = Xh or xh - 1 = -1) its value comes from a *column ghost* (the site at the
other end of the row, or of the neighbouring rank where x is split); where a row's neighbour lies
on another rank it is a *ghost row* appended after the ``nrows`` local rows (indices ``nrows ..``).
Directions d = 0..7 are x+, x-, y+, y-, z+, z-, t+, t-.

Local X must be even (the checkerboard halves it); other local extents may be odd.
"""

import numpy as np

from ..errors import HpcmixError

#: direction d -> (mu, sign): d = 2 mu for +mu, 2 mu + 1 for -mu
DIRECTIONS = tuple((d // 2, 1 if d % 2 == 0 else -1) for d in range(8))


class EvenOddLayout:
    """Rows, row parities and neighbour tables of the half-lattice fields on ``lattice``."""

    def __init__(self, lattice):
        X, Y, Z, T = lattice.local_dims
        if X % 2:
            raise HpcmixError(f"the even-odd row layout needs an even local x extent, got {X} (lattice "
                              f"{lattice.dims} on process grid {lattice.pg.grid}); choose a process grid that "
                              f"leaves the local x extent even")
        self.lattice = lattice
        self.local_dims = (X, Y, Z, T)
        self.xh = X // 2
        self.nrows = Y * Z * T
        self.half_volume = self.nrows * self.xh
        x0, y0, z0, t0 = lattice.offset
        t, z, y = np.meshgrid(np.arange(T), np.arange(Z), np.arange(Y), indexing="ij")
        self._tzy = (t.ravel(), z.ravel(), y.ravel())
        base = (x0 + y0 + z0 + t0 + t + z + y).ravel() % 2
        #: r_p(row) for p = 0, 1 (int32)
        self.row_parity = np.stack([(base + p) % 2 for p in (0, 1)]).astype(np.int32)
        self.split = [lattice.pg.grid[mu] > 1 for mu in range(4)]
        self._build_rows()

    # ---- neighbour tables ---------------------------------------------------------------------
    def _build_rows(self):
        """``row_neighbour[d, row]`` (int32; ghost rows from ``nrows`` on) and, per split direction,
        the local rows on each face: ``face_rows[d]`` are the rows whose d-neighbours are ghosts, in
        the order of the ghost rows they use (ghost row ``ghost_start[d] + i`` for ``face_rows[d][i]``)."""
        X, Y, Z, T = self.local_dims
        t, z, y = self._tzy
        coords = {1: y, 2: z, 3: t}
        extent = {1: Y, 2: Z, 3: T}
        table = np.empty((8, self.nrows), np.int32)
        table[0] = table[1] = np.arange(self.nrows)
        self.face_rows, self.ghost_start = {}, {}
        ghost = self.nrows
        for mu in (1, 2, 3):
            for sign in (1, -1):
                d = 2 * mu + (0 if sign == 1 else 1)
                c = [t.copy(), z.copy(), y.copy()]
                k = 3 - mu          # index into (t, z, y)
                c[k] = (c[k] + sign) % extent[mu]
                table[d] = (c[0] * Z + c[1]) * Y + c[2]
                if self.split[mu]:
                    edge = coords[mu] == (extent[mu] - 1 if sign == 1 else 0)
                    rows = np.flatnonzero(edge).astype(np.int32)
                    self.face_rows[d] = rows
                    self.ghost_start[d] = ghost
                    table[d, rows] = ghost + np.arange(rows.size, dtype=np.int32)
                    ghost += rows.size
        self.row_neighbour = table
        self.nghost = ghost - self.nrows
        #: rows none of whose y/z/t neighbours is a ghost row (computed while faces are in flight)
        boundary = np.zeros(self.nrows, bool)
        for rows in self.face_rows.values():
            boundary[rows] = True
        self.all_rows = np.arange(self.nrows, dtype=np.int32)
        self.interior_rows = np.flatnonzero(~boundary).astype(np.int32)
        self.boundary_rows = np.flatnonzero(boundary).astype(np.int32)

    # ---- canonical <-> row layout ------------------------------------------------------------
    def site_index(self, parity):
        """(t, z, y, x) local index arrays of the sites of ``parity``, shaped ``[nrows, Xh]``."""
        t, z, y = self._tzy
        x = 2 * np.arange(self.xh)[None, :] + self.row_parity[parity][:, None]
        return t[:, None], z[:, None], y[:, None], x

    def to_rows(self, array, parity):
        """The sites of ``parity`` of a canonical local array ``[t, z, y, x, ...]`` as ``[nrows, Xh, ...]``."""
        return np.asarray(array)[self.site_index(parity)]

    def from_rows(self, rows, parity, out):
        """Write ``rows[nrows, Xh, ...]`` into the sites of ``parity`` of the canonical array ``out``."""
        out[self.site_index(parity)] = rows
        return out

    def global_coordinate(self, parity, mu):
        """Global coordinate x_mu of every site of ``parity``, ``[nrows, Xh]``."""
        idx = self.site_index(parity)
        local = idx[3 - mu]
        return np.broadcast_to(local + self.lattice.offset[mu], (self.nrows, self.xh))

    def __repr__(self):
        return (f"<EvenOddLayout local {list(self.local_dims)}: {self.nrows} rows x {self.xh} lanes, "
                f"{self.nghost} ghost rows>")
