"""Geometric aggregation of one multigrid level: the fine lattice cut into blocks of ``block = [bx, by, bz, bt]``
sites (the ``[X, Y, Z, T]`` convention), each block one coarse site, and each block's degrees of freedom split
by chirality.

A site's ``dofs`` complex components (flattened, e.g. Wilson's [spin, colour] as 3 spin + colour) split into two
halves of ``dofs / 2``: the first half is chirality +1, the second -1. In the DeGrand-Rossi basis
gamma5 = diag(1, 1, -1, -1), so for a Wilson spinor the halves are spins (0, 1) and (2, 3); on a coarse level
the first n_vec of its 2 n_vec dofs are chirality +1 (the coarse gamma5 is diag(+1 x n_vec, -1 x n_vec)).

Blocks lie inside one rank's box (a block must divide the local extents), so aggregation, orthonormalization,
restriction and prolongation need no communication; the coarse lattice has global extents dims / block on the
same process grid.
"""

import numpy as np

from ...errors import DeckError
from ...lattice import Lattice


class Blocking:
    """The blocks of ``block`` sites on ``lattice`` (local shape ``[T, Z, Y, X]``), for fields of ``dofs``
    complex components per site; ``level`` (0 = finest) names the level in errors."""

    def __init__(self, lattice, block, dofs, level=0):
        block = [int(b) for b in block]
        if len(block) != 4 or min(block) < 1:
            raise DeckError(f"level {level}: block must be 4 positive extents [bx, by, bz, bt], got {block}",
                            key=f"levels[{level}].block")
        bad = [f"{'xyzt'[mu]}: {lattice.local_dims[mu]} % {block[mu]} = {lattice.local_dims[mu] % block[mu]}"
               for mu in range(4) if lattice.local_dims[mu] % block[mu]]
        if bad:
            raise DeckError(f"level {level}: block {block} does not divide the local lattice extents "
                            f"{lattice.local_dims} ({'; '.join(bad)})", key=f"levels[{level}].block")
        if dofs % 2:
            raise ValueError(f"level {level}: {dofs} dofs per site cannot split into two chiralities")
        self.lattice, self.block, self.dofs, self.level = lattice, block, dofs, level
        self.coarse_lattice = Lattice([d // b for d, b in zip(lattice.dims, block)], grid=lattice.pg.grid,
                                      comm=lattice.pg.cart)
        self.coarse_shape = self.coarse_lattice.shape                 # (Tc, Zc, Yc, Xc) local
        self.block_dofs = int(np.prod(block)) * dofs // 2            # complex dofs of one block and chirality

    def to_blocks(self, array):
        """Fine canonical ``array[T, Z, Y, X, dofs, *rest]`` as ``[Tc, Zc, Yc, Xc, 2, block_dofs, *rest]``
        (chirality, then the block's sites t, z, y, x and the site's half of the dofs)."""
        return self._gather(array, self.block)

    def layer(self, mu, sign):
        """The in-block coordinate along mu of the fine sites x whose hop to x + sign mu leaves their block: the
        last layer of each block in direction mu (b_mu - 1) for sign +1, the first (0) for -1; the sites
        x + sign mu lie in ``layer(mu, -sign)`` of the neighbouring block."""
        return self.block[mu] - 1 if sign > 0 else 0

    def layer_sites(self, array, mu, layer):
        """The per-site ``array[T, Z, Y, X, *rest]`` at the sites with in-block coordinate ``layer`` along mu, as
        ``[Tc, Zc, Yc, Xc, L, *rest]``: L = prod(block) / b_mu sites per block, in (t, z, y, x) order."""
        rest = array.shape[4:]
        shape = []
        for n, b in zip(self.coarse_shape, reversed(self.block)):
            shape += [n, b]
        a = array.reshape(tuple(shape) + rest).transpose((0, 2, 4, 6, 1, 3, 5, 7) + tuple(range(8, 8 + len(rest))))
        return self._layer(a, mu, layer)

    def layer_of_blocks(self, blocks, mu, layer):
        """``blocks[..., block_dofs]`` (a block's sites t, z, y, x and the half site's dofs, as :meth:`to_blocks`
        orders them) at in-block coordinate ``layer`` along mu: ``[..., L, dofs / 2]``, L as :meth:`layer_sites`."""
        a = blocks.reshape(blocks.shape[:-1] + tuple(reversed(self.block)) + (self.dofs // 2,))
        a = np.take(a, layer, axis=a.ndim - 2 - mu)
        return a.reshape(a.shape[:-4] + (-1, self.dofs // 2))

    def _layer(self, a, mu, layer):
        """``a[Tc, Zc, Yc, Xc, bt, bz, by, bx, *rest]`` at in-block ``layer`` along mu, the block axes flattened."""
        a = np.take(a, layer, axis=7 - mu)
        return a.reshape(a.shape[:4] + (-1,) + a.shape[7:])

    def _gather(self, array, block):
        """``array[T', Z', Y', X', dofs, *rest]`` (T' = Tc bt, ...) as ``[Tc, Zc, Yc, Xc, 2, prod(block) dofs / 2,
        *rest]``."""
        rest = array.shape[5:]
        bx, by, bz, bt = block
        shape = []
        for n, b in zip(self.coarse_shape, (bt, bz, by, bx)):
            shape += [n, b]
        a = array.reshape(tuple(shape) + (2, self.dofs // 2) + rest)
        k = len(rest)
        order = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9) + tuple(range(10, 10 + k))
        return a.transpose(order).reshape(self.coarse_shape + (2, int(np.prod(block)) * self.dofs // 2) + rest)

    def from_blocks(self, blocks):
        """The inverse of :meth:`to_blocks`: ``[Tc, Zc, Yc, Xc, 2, block_dofs, *rest]`` as the fine canonical
        array ``[T, Z, Y, X, dofs, *rest]`` (a new contiguous array)."""
        rest = blocks.shape[6:]
        bx, by, bz, bt = self.block
        a = blocks.reshape(self.coarse_shape + (2, bt, bz, by, bx, self.dofs // 2) + rest)
        k = len(rest)
        order = (0, 5, 1, 6, 2, 7, 3, 8, 4, 9) + tuple(range(10, 10 + k))
        return np.ascontiguousarray(a.transpose(order)).reshape(self.lattice.shape + (self.dofs,) + rest)
