"""The 4-D process grid over the global lattice.

Directions mu = 0, 1, 2, 3 are x, y, z, t; local arrays are indexed ``[t, z, y, x, ...]`` so
direction mu is array axis ``3 - mu``. One process without mpiexec is the same code on a 1x1x1x1
grid. Reductions are accumulated in float64 and summed in rank order, so they are deterministic
for a fixed grid and bitwise identical on every rank.
"""

import math
import os
import time

import numpy as np
from mpi4py import MPI

from ..errors import DeckError, HpcmixError


def world():
    return MPI.COMM_WORLD


def node_ranks(comm):
    """(this rank's index among the ranks of ``comm`` on its node, how many ranks that node runs)."""
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return local.rank, local.size
    finally:
        local.Free()


def cores():
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def oversubscribed(comm):
    """True where this node runs more ranks than it has cores (``HPCMIX_MPI_POLITE=1/0`` overrides).
    MPI libraries busy-poll while they wait; oversubscribed ranks then steal each other's cores, so
    hpcmix waits politely instead (test, then sleep briefly)."""
    forced = os.environ.get("HPCMIX_MPI_POLITE")
    if forced is not None:
        return forced not in ("0", "")
    return comm.size > 1 and node_ranks(comm)[1] > cores()


def wait_all(requests, polite):
    """Complete ``requests``; politely (Testall and a 20 us sleep) on an oversubscribed node."""
    if not polite:
        MPI.Request.Waitall(requests)
        return
    while not MPI.Request.Testall(requests):
        time.sleep(2e-5)


def _prime_factors(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return sorted(out, reverse=True)


def auto_grid(dims, size):
    """Split ``size`` ranks over directions, one prime factor at a time (largest first), each into the
    direction of largest local extent it divides, preferring splits that leave the local extent even
    (ties go to t, then z, y, x). Odd local extents work where nothing works on a checkerboard (parity
    is global, shifts of any depth compose), so they are taken where nothing else divides; even-odd
    preconditioning refuses them (the deck says so). Raises HpcmixError where the ranks cannot be split."""
    grid = [1, 1, 1, 1]
    for p in _prime_factors(size):
        fits = [mu for mu in (3, 2, 1, 0) if (dims[mu] // grid[mu]) % p == 0]
        if not fits:
            raise HpcmixError(f"cannot split lattice {list(dims)} over {size} ranks: no extent is divisible by "
                              f"the factor {p} of the rank count", collective=True)
        best = max(fits, key=lambda mu: ((dims[mu] // grid[mu] // p) % 2 == 0, dims[mu] // grid[mu]))
        grid[best] *= p
    return grid


def check_grid(dims, grid, size, file=None):
    """Check a process grid against the lattice and the number of ranks (a DeckError if it does not fit)."""
    if len(grid) != 4 or any(g < 1 for g in grid):
        raise DeckError(f"process grid must be 4 positive integers, got {grid}", file=file, stage="run", key="grid")
    if math.prod(grid) != size:         # exact: numpy's product of int64 extents can wrap around
        raise DeckError(f"process grid {grid} has {math.prod(grid)} ranks but the job has {size}",
                        file=file, stage="run", key="grid")
    for mu in range(4):
        if dims[mu] % grid[mu]:
            raise DeckError(f"lattice extent {dims[mu]} in direction {'xyzt'[mu]} is not divisible by the "
                            f"process grid {grid[mu]}", file=file, stage="run", key="grid")


class ProcessGrid:
    """A Cartesian grid of MPI ranks covering the global lattice ``dims = [X, Y, Z, T]``."""

    def __init__(self, dims, grid=None, comm=None):
        comm = comm if comm is not None else MPI.COMM_WORLD
        self.dims = [int(d) for d in dims]
        self.grid = list(grid) if grid is not None else auto_grid(self.dims, comm.size)
        check_grid(self.dims, self.grid, comm.size)
        # MPI's Cartesian order is row-major with the last dimension fastest: use (t, z, y, x).
        self.cart = comm.Create_cart(self.grid[::-1], periods=[True] * 4, reorder=False)
        self.rank, self.size = self.cart.rank, self.cart.size
        self.coords = list(self.cart.Get_coords(self.rank))[::-1]  # (x, y, z, t)
        self.local_dims = [d // g for d, g in zip(self.dims, self.grid)]
        self.offset = [c * l for c, l in zip(self.coords, self.local_dims)]
        self.polite = oversubscribed(self.cart)
        self.neighbours = []  # per mu: (backward rank, forward rank)
        for mu in range(4):
            back, fwd = self.cart.Shift(3 - mu, 1)
            self.neighbours.append((back, fwd))

    # ---- reductions -------------------------------------------------------------------------
    def _gather_buffer(self, array):
        """Every rank's ``array`` (numeric), stacked in rank order."""
        array = np.ascontiguousarray(array)
        out = np.empty((self.size,) + array.shape, dtype=array.dtype)
        wait_all([self.cart.Iallgather(array, out)], self.polite)
        return out

    def sum(self, value):
        """Global sum of a float or complex scalar, in float64, summed in rank order."""
        value = complex(value) if np.iscomplexobj(value) else float(value)
        if self.size == 1:
            return value
        parts = self._gather_buffer(np.asarray([value]))[:, 0]
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        return complex(total) if isinstance(value, complex) else float(total)

    def sum_array(self, array):
        """Element-wise global sum of a small array (float64/complex128), in rank order."""
        array = np.asarray(array)
        array = array.astype(np.complex128 if np.iscomplexobj(array) else np.float64)
        if self.size == 1:
            return array
        parts = self._gather_buffer(array)
        total = parts[0].copy()
        for p in parts[1:]:
            total += p
        return total

    def _allreduce(self, value, dtype, op):
        out = np.empty(1, dtype=dtype)
        wait_all([self.cart.Iallreduce(np.asarray([value], dtype=dtype), out, op=op)], self.polite)
        return out[0]

    def max(self, value):
        return value if self.size == 1 else float(self._allreduce(value, np.float64, MPI.MAX))

    def xor(self, value):
        """Bitwise XOR of an unsigned 32-bit integer over all ranks (for checksums)."""
        return int(value) if self.size == 1 else int(self._allreduce(int(value), np.uint32, MPI.BXOR))

    def any(self, flag):
        return bool(flag) if self.size == 1 else bool(self._allreduce(int(bool(flag)), np.int32, MPI.MAX))

    def allgather(self, obj):
        return [obj] if self.size == 1 else self.cart.allgather(obj)

    def bcast(self, obj, root=0):
        return obj if self.size == 1 else self.cart.bcast(obj, root=root)

    def barrier(self):
        if self.size > 1:
            wait_all([self.cart.Ibarrier()], self.polite)

    # ---- halo exchange ----------------------------------------------------------------------
    def start_shift(self, array, mu, k):
        """Begin ``out[x] = array[x + k mu]`` (periodic over the global lattice, |k| <= local extent).

        Faces travel with non-blocking sends in the array's own dtype (low-precision storage ships
        as stored). Returns a handle whose ``wait()`` gives the shifted array.
        """
        return _Shift(self, array, mu, k)

    def shift(self, array, mu, k):
        return self.start_shift(array, mu, k).wait()


class _Shift:
    def __init__(self, pg, array, mu, k):
        self.pg, self.mu, self.k, self.axis = pg, mu, k, 3 - mu
        self.local = np.roll(array, -k, axis=self.axis)
        self.requests = []
        if pg.grid[mu] == 1 or k == 0:
            return
        length = array.shape[self.axis]
        if abs(k) > length:
            raise HpcmixError(f"shift by {k} exceeds the local extent {length} in direction {'xyzt'[mu]}")
        back, fwd = pg.neighbours[mu]
        sl = [slice(None)] * array.ndim
        if k > 0:  # my first k slices go backward; the forward neighbour's first k fill my end
            sl[self.axis] = slice(0, k)
            send, dest, source = array[tuple(sl)], back, fwd
            sl[self.axis] = slice(length - k, length)
        else:
            sl[self.axis] = slice(length + k, length)
            send, dest, source = array[tuple(sl)], fwd, back
            sl[self.axis] = slice(0, -k)
        self.target = tuple(sl)
        self.sendbuf = np.ascontiguousarray(send)
        self.recvbuf = np.empty_like(self.sendbuf)
        tag = 16 * mu + (k + 8 if k < 0 else k)
        self.requests = [pg.cart.Irecv(self.recvbuf, source=source, tag=tag),
                         pg.cart.Isend(self.sendbuf, dest=dest, tag=tag)]

    def wait(self):
        if self.requests:
            wait_all(self.requests, self.pg.polite)
            self.local[self.target] = self.recvbuf
        return self.local


def collective(pg, action, error_type, *, what=""):
    """Run ``action()`` on every rank and agree on failure: if it raised on any rank, every rank
    raises the same ``error_type`` (the lowest failing rank's message, marked collective), so the
    job can end cleanly instead of leaving ranks waiting. Returns ``action()``'s value."""
    message = None
    try:
        value = action()
    except (HpcmixError, OSError, ValueError, KeyError, TypeError) as exc:
        message, value = str(exc) or type(exc).__name__, None
    messages = pg.allgather(message) if pg is not None else [message]
    failed = [(r, m) for r, m in enumerate(messages) if m is not None]
    if failed:
        rank, first = failed[0]
        suffix = f" (on rank {rank} of {len(messages)})" if len(messages) > 1 else ""
        exc = error_type(f"{what}{first}{suffix}")
        exc.collective = True
        raise exc
    return value
