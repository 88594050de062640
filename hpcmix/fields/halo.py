"""Halo exchange of a half-lattice field in the row layout, in its storage format.

Two kinds of ghosts (:mod:`hpcmix.fields.layout`): *ghost rows* (the y, z, t neighbours on other
ranks, ``depth`` slices per split side, written into the field's rows ``nrows ..``) and *column ghosts*
``cg[2, xdepth, nrows, k]`` (and norms ``cgn[2, xdepth, nrows]``): for every row, ``cg[0, j]`` is lane j
of the same row of the x+ neighbour (x+ side of the row's last lane) and ``cg[1, j]`` lane Xh - 1 - j of
the x- neighbour (this rank's own row where x is not split). Fixed-point data travel as stored, with
their norms.

With ``faces`` (a pair of kernels ``pack(field, rows, d) -> (data, norm)`` and ``unpack(field, where, data,
norm, d)``, e.g. the Wilson spin projection to half spinors) the ghost rows of direction d travel as
``pack`` makes them and ``unpack`` writes them; column ghosts always travel as stored.

``start()`` posts the non-blocking sends and receives and returns at once, so a kernel can compute
the interior rows (none of whose y, z, t neighbours is a ghost) while the faces are in flight;
``wait()`` completes them. Where x is split the column ghosts travel too, and every row waits.
"""

import numpy as np

from ..comm.grid import wait_all


class Halo:
    def __init__(self, field, faces=None):
        self.field, self.faces = field, faces
        lay = field.layout
        self.pg = lay.lattice.pg
        shape = (2, lay.xdepth, lay.nrows)
        self.cg = np.empty(shape + (field.ncomp,), field.data.dtype)
        self.cgn = np.empty(shape, np.float32) if field.norm is not None else np.ones((2, 1, 1), np.float32)
        self.requests, self._unpack, self._keep = [], [], []

    def _arrays(self):
        f = self.field
        return [f.data] if f.norm is None else [f.data, f.norm]

    def start(self):
        f, lay, pg = self.field, self.field.layout, self.pg
        nrows, xh, xd = lay.nrows, lay.xh, lay.xdepth
        cart = pg.cart
        for d, send_rows in lay.send_rows.items():          # y, z, t faces where split
            mu, forward = d // 2, d % 2 == 0
            back, fwd = pg.neighbours[mu]
            # ghost block d comes from the neighbour in direction d; my rows fill the opposite neighbour's
            source, dest = (fwd, back) if forward else (back, fwd)
            g0 = lay.ghost_start[d]
            where = slice(g0, g0 + send_rows.size)
            if self.faces is None:
                targets, sends = self._arrays(), [np.ascontiguousarray(a[send_rows]) for a in self._arrays()]
            else:
                targets, sends = None, [a for a in self.faces[0](f, send_rows, d) if a is not None]
            received = [np.empty_like(b) for b in sends]
            for k, (recv, sendbuf) in enumerate(zip(received, sends)):
                tag = 100 + 10 * d + k
                self.requests += [cart.Irecv(recv, source=source, tag=tag), cart.Isend(sendbuf, dest=dest, tag=tag)]
            self._unpack.append((where, d, received, targets))
            self._keep += sends
        first, last = np.arange(xd), xh - 1 - np.arange(xd)
        columns = [(np.moveaxis(f.data[:nrows][:, :, first], 2, 0), np.moveaxis(f.data[:nrows][:, :, last], 2, 0),
                    self.cg)]
        if f.norm is not None:
            columns.append((f.norm[:nrows][:, first].T, f.norm[:nrows][:, last].T, self.cgn))
        if not lay.split[0]:
            for lo, hi, target in columns:
                target[0] = lo
                target[1] = hi
        else:
            back, fwd = pg.neighbours[0]
            for k, (lo, hi, target) in enumerate(columns):
                sf, sl = np.ascontiguousarray(lo), np.ascontiguousarray(hi)
                self.requests += [cart.Irecv(target[0], source=fwd, tag=200 + k),
                                  cart.Isend(sf, dest=back, tag=200 + k),
                                  cart.Irecv(target[1], source=back, tag=210 + k),
                                  cart.Isend(sl, dest=fwd, tag=210 + k)]
                self._keep += [sf, sl]
        return self

    def wait(self):
        if self.requests:
            wait_all(self.requests, self.pg.polite)
            for where, d, received, targets in self._unpack:
                if targets is None:
                    self.faces[1](self.field, where, received[0], received[1] if len(received) > 1 else None, d)
                else:
                    for array, recv in zip(targets, received):
                        array[where] = recv
            self.requests, self._unpack, self._keep = [], [], []
        return self
