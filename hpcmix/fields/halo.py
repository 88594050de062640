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

On a GPU backend the faces are packed and unpacked on the device (its halo stream,
``backend.halo_context()``) and travel from device memory where MPI reads it (CUDA-aware MPI), else
through host buffers (``backend.outgoing``, ``incoming``, ``arrived``).
"""

import numpy as np

from ..comm.grid import wait_all

_NO_NORMS = np.ones((2, 1, 1), np.float32)


class Halo:
    def __init__(self, field, faces=None):
        self.field, self.faces = field, faces
        self.backend = backend = field.backend
        lay = field.layout
        self.pg = lay.lattice.pg
        shape = (2, lay.xdepth, lay.nrows)
        self.cg = backend.empty(shape + (field.ncomp,), field.data.dtype)
        self.cgn = backend.empty(shape, np.float32) if field.norm is not None else backend.table(_NO_NORMS)
        self.requests, self._arrivals, self._keep = [], [], []

    def _arrays(self):
        f = self.field
        return [f.data] if f.norm is None else [f.data, f.norm]

    def _exchange(self, sendbuf, dest, source, tag):
        """Post the send of ``sendbuf`` (a device or host array) to ``dest`` and the receive of its like
        from ``source``; the buffer it arrives in."""
        be, cart = self.backend, self.pg.cart
        out = be.outgoing(sendbuf)
        recv = be.incoming(out.shape, out.dtype)
        self.requests += [cart.Irecv(recv, source=source, tag=tag), cart.Isend(out, dest=dest, tag=tag)]
        self._keep.append(out)
        return recv

    def _columns(self):
        """(first lanes, last lanes reversed, target) of the column ghosts of the data and the norms: lanes
        0 .. xdepth - 1 and Xh - 1, Xh - 2, .. of every local row, as ``[xdepth, nrows, ...]``."""
        f, lay = self.field, self.field.layout
        xp, n, xd, xh = self.backend.xp, lay.nrows, lay.xdepth, lay.xh
        cols = [(xp.moveaxis(f.data[:n, :, :xd], 2, 0), xp.moveaxis(f.data[:n, :, xh - xd:][:, :, ::-1], 2, 0),
                 self.cg)]
        if f.norm is not None:
            cols.append((f.norm[:n, :xd].T, f.norm[:n, xh - xd:][:, ::-1].T, self.cgn))
        return cols

    def start(self):
        f, lay, pg, be = self.field, self.field.layout, self.pg, self.backend
        with be.halo_context():
            for d, send_rows in lay.send_rows.items():          # y, z, t faces where split
                mu, forward = d // 2, d % 2 == 0
                back, fwd = pg.neighbours[mu]
                # ghost block d comes from the neighbour in direction d; my rows fill the opposite neighbour's
                source, dest = (fwd, back) if forward else (back, fwd)
                g0 = lay.ghost_start[d]
                where = slice(g0, g0 + send_rows.size)
                rows = be.table(send_rows)
                if self.faces is None:
                    targets, sends = self._arrays(), [a[rows] for a in self._arrays()]
                else:
                    targets, sends = None, [a for a in self.faces[0](f, rows, d) if a is not None]
                received = [self._exchange(b, dest, source, 100 + 10 * d + k) for k, b in enumerate(sends)]
                self._arrivals.append((where, d, received, targets))
            columns = self._columns()
            if not lay.split[0]:
                for lo, hi, target in columns:
                    target[0] = lo
                    target[1] = hi
            else:
                back, fwd = pg.neighbours[0]
                for k, (lo, hi, target) in enumerate(columns):
                    self._arrivals.append(("columns", target, self._exchange(lo, back, fwd, 200 + k),
                                           self._exchange(hi, fwd, back, 210 + k)))
        return self

    def wait(self):
        if self.requests:
            wait_all(self.requests, self.pg.polite)
            be = self.backend
            with be.halo_context():
                for where, *rest in self._arrivals:
                    if where == "columns":
                        target, first, last = rest
                        target[0] = be.arrived(first)
                        target[1] = be.arrived(last)
                        continue
                    d, received, targets = rest
                    received = [be.arrived(r) for r in received]
                    if targets is None:
                        self.faces[1](self.field, where, received[0], received[1] if len(received) > 1 else None, d)
                    else:
                        for array, recv in zip(targets, received):
                            array[where] = recv
            self.requests, self._arrivals, self._keep = [], [], []
        return self
