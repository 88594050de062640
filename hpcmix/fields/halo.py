"""Halo exchange of a half-lattice field in the row layout, in its storage format.

Two kinds of ghosts (:mod:`hpcmix.fields.layout`): *ghost rows* (the y, z, t neighbours on other
ranks, written into the field's rows ``nrows ..``) and *column ghosts* ``cg[2, nrows, k]`` (and norms
``cgn[2, nrows]``): for every row the x+ neighbour of its last lane (``cg[0]``: lane 0 of the same
row of the x+ neighbour, this rank's own row where x is not split) and the x- neighbour of its
first lane (``cg[1]``: lane Xh - 1). Fixed-point data travel as stored, with their norms.

``start()`` posts the non-blocking sends and receives and returns at once, so a kernel can compute
the interior rows (none of whose y, z, t neighbours is a ghost) while the faces are in flight;
``wait()`` completes them. Where x is split the column ghosts travel too, and every row waits.
"""

import numpy as np

from ..comm.grid import wait_all


class Halo:
    def __init__(self, field):
        self.field = field
        lay = field.layout
        self.pg = lay.lattice.pg
        nrows = lay.nrows
        self.cg = np.empty((2, nrows, field.ncomp), field.data.dtype)
        self.cgn = np.empty((2, nrows), np.float32) if field.norm is not None else np.ones((2, 1), np.float32)
        self.requests, self._unpack = [], []

    def _arrays(self):
        f = self.field
        return [f.data] if f.norm is None else [f.data, f.norm]

    def start(self):
        f, lay, pg = self.field, self.field.layout, self.pg
        nrows, xh = lay.nrows, lay.xh
        cart = pg.cart
        for d, rows in lay.face_rows.items():               # y, z, t faces where split
            mu, forward = d // 2, d % 2 == 0
            back, fwd = pg.neighbours[mu]
            # my rows on the opposite face go to the neighbour on that side; its rows fill my ghosts
            send_rows = lay.face_rows[d + 1 if forward else d - 1]
            source, dest = (fwd, back) if forward else (back, fwd)
            g0 = lay.ghost_start[d]
            for k, a in enumerate(self._arrays()):
                sendbuf = np.ascontiguousarray(a[send_rows])
                recv = np.empty((rows.size,) + a.shape[1:], a.dtype)
                tag = 100 + 10 * d + k
                self.requests += [cart.Irecv(recv, source=source, tag=tag), cart.Isend(sendbuf, dest=dest, tag=tag)]
                self._unpack.append((a, slice(g0, g0 + rows.size), recv, sendbuf))
        columns = [(f.data[:nrows, :, 0], f.data[:nrows, :, xh - 1], self.cg)]
        if f.norm is not None:
            columns.append((f.norm[:nrows, 0], f.norm[:nrows, xh - 1], self.cgn))
        if not lay.split[0]:
            for first, last, target in columns:
                target[0] = first
                target[1] = last
        else:
            back, fwd = pg.neighbours[0]
            for k, (first, last, target) in enumerate(columns):
                sf, sl = np.ascontiguousarray(first), np.ascontiguousarray(last)
                self.requests += [cart.Irecv(target[0], source=fwd, tag=200 + k), cart.Isend(sf, dest=back, tag=200 + k),
                                  cart.Irecv(target[1], source=back, tag=210 + k), cart.Isend(sl, dest=fwd, tag=210 + k)]
                self._unpack.append((None, None, None, (sf, sl)))
        return self

    def wait(self):
        if self.requests:
            wait_all(self.requests, self.pg.polite)
            for array, where, recv, _ in self._unpack:
                if array is not None:
                    array[where] = recv
            self.requests, self._unpack = [], []
        return self
