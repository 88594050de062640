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

Neighbours. The neighbour of (row, xh) of parity p at x + h mu (a hop of length h = 1, or 3 for
the Naik term, forward or backward) has parity 1 - p and is

* mu = y, z, t: the same lane ``xh`` of another row (``row_neighbour[d, row]``);
* mu = x: the same row, lane ``xh + r_p(row) + (h - 1) / 2`` forward, ``xh + r_p(row) - (h + 1) / 2``
  backward (a shift of at most (h + 1) / 2 lanes);

so a whole row of neighbours is one row (y, z, t) or one row shifted by lanes (x). Where a lane
leaves the row its value comes from a *column ghost* (lanes of the same row at the other end, or on
the neighbouring rank where x is split; ``xdepth = (depth + 1) / 2`` lanes per side); where a row's
neighbour lies on another rank it is a *ghost row* appended after the ``nrows`` local rows (indices
``nrows ..``). Directions d = 8 i + 2 mu + (0 forward, 1 backward) for the hop ``hops[i]``: d = 0..7
are x+, x-, y+, y-, z+, z-, t+, t- (h = 1), d = 8..15 the same with h = 3 in a layout of ``depth`` 3.

Ghost rows. Per split direction mu and side, a block of ``depth`` slices: the forward block (d = 2 mu)
holds the neighbour rank's slices x_mu = 0 .. depth - 1, the backward one (d = 2 mu + 1) its slices
x_mu = L - 1, L - 2, ..., each slice's rows in row order (the same on every rank, the local extents being
equal), so split directions need a local extent of at least ``depth``.

Local X must be even (the checkerboard halves it) and hold ``xdepth`` lanes; other local extents may be
odd (:func:`unsupported` says what a lattice lacks).
"""

import numpy as np

from ..errors import HpcmixError


def unsupported(lattice, depth=1):
    """Why the row layout of hops up to ``depth`` cannot hold ``lattice``'s local sites (None if it can)."""
    X = lattice.local_dims[0]
    where = f"(lattice {list(lattice.dims)} on process grid {list(lattice.pg.grid)})"
    odd = [f"{'xyzt'[mu]} = {n}" for mu, n in enumerate(lattice.dims) if n % 2]
    if odd:
        return f"the even-odd row layout needs even global extents, got {', '.join(odd)}"
    if X % 2:
        return (f"the even-odd row layout needs an even local x extent, got {X} {where}; choose a process grid "
                f"that leaves the local x extent even")
    if X // 2 < (depth + 1) // 2:
        return f"hops of {depth} sites need a local x extent of at least {depth + 1}, got {X} {where}"
    short = [f"{'xyzt'[mu]} = {lattice.local_dims[mu]}" for mu in range(4)
             if lattice.pg.grid[mu] > 1 and lattice.local_dims[mu] < depth]
    if short:
        return (f"hops of {depth} sites across ranks need local extents of at least {depth} in split directions, "
                f"got {', '.join(short)} {where}")
    return None


class EvenOddLayout:
    """Rows, row parities and neighbour tables of the half-lattice fields on ``lattice`` for hops up to
    ``depth`` sites (1: Wilson; 3: asqtad's Naik term)."""

    def __init__(self, lattice, depth=1):
        problem = unsupported(lattice, depth)
        if problem:
            raise HpcmixError(problem)
        X, Y, Z, T = lattice.local_dims
        self.lattice, self.depth = lattice, depth
        self.hops = (1,) if depth == 1 else (1, depth)
        self.xdepth = (depth + 1) // 2
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

    @staticmethod
    def lane_shift(d, hops=(1, 3)):
        """For an x direction d: the lane shift is r_p(row) + lane_shift(d) (module doc); None otherwise."""
        if d % 8 > 1:
            return None
        h = hops[d // 8]
        return (h - 1) // 2 if d % 2 == 0 else -(h + 1) // 2

    # ---- neighbour tables ---------------------------------------------------------------------
    def _build_rows(self):
        """``row_neighbour[d, row]`` (int32; ghost rows from ``nrows`` on) and, per split direction d < 8,
        ``send_rows[d]``: the local rows a rank sends to its neighbour opposite to d, which fill that
        neighbour's ghost block d (rows ``ghost_start[d] ..``) in this order."""
        X, Y, Z, T = self.local_dims
        t, z, y = self._tzy
        coords = {1: y, 2: z, 3: t}
        extent = {1: Y, 2: Z, 3: T}
        depth, n = self.depth, self.nrows
        table = np.empty((8 * len(self.hops), n), np.int32)
        self.send_rows, self.ghost_start = {}, {}
        ghost = n
        for mu in (1, 2, 3):
            c, E = coords[mu], extent[mu]
            slice_size = n // E
            transverse = np.empty(n, np.int64)          # a row's position among the rows of its slice
            for j in range(E):
                transverse[c == j] = np.arange(slice_size)
            step = {1: 1, 2: Y, 3: Y * Z}[mu]           # row index stride of x_mu
            for sign in (1, -1):
                d = 2 * mu + (0 if sign == 1 else 1)
                if self.split[mu]:
                    self.ghost_start[d] = ghost
                    order = np.arange(depth) if sign == 1 else E - 1 - np.arange(depth)
                    self.send_rows[d] = np.concatenate([np.flatnonzero(c == j) for j in order]).astype(np.int32)
                for i, h in enumerate(self.hops):
                    target = c + sign * h
                    local = (target >= 0) & (target < E)
                    if not self.split[mu]:
                        target, local = target % E, np.ones(n, bool)
                    rows = np.arange(n) + (target - c) * step
                    out = np.where(local, rows, 0)
                    if self.split[mu]:
                        block = np.where(sign == 1, target - E, -1 - target)     # slice in the ghost block
                        out = np.where(local, out, ghost + block * slice_size + transverse)
                    table[8 * i + d] = out
                if self.split[mu]:
                    ghost += depth * slice_size
        for i in range(len(self.hops)):
            table[8 * i] = table[8 * i + 1] = np.arange(n)
        self.row_neighbour = table
        self.nghost = ghost - n
        #: rows none of whose y/z/t neighbours is a ghost row (computed while faces are in flight)
        boundary = (table >= n).any(axis=0)
        self.all_rows = np.arange(n, dtype=np.int32)
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

    def __repr__(self):
        return (f"<EvenOddLayout local {list(self.local_dims)}, hops {self.hops}: {self.nrows} rows x {self.xh} "
                f"lanes, {self.nghost} ghost rows>")
