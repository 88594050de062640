"""The Galerkin coarse operator D_c = P^dag A P as a stencil (:class:`~.coarse.CoarseOperator`), computed once.

With V_{B,s,k} the basis of block B and chirality s (:mod:`.transfer`), H_mu^{+-} the hopping terms of A
(A(x, x +- mu)) and L_mu^{+-}(B) the layer of B whose hops leave it (its last layer along mu for +, its first for
-), whose neighbours x +- mu lie in the opposite layer of the block B +- mu:

    Y_mu^{+-}(B)[(s, k), (s', k')] = sum_{x in L_mu^{+-}(B)} V_{B,s,k}(x)^dag H_mu^{+-}(x) V_{B +- mu,s',k'}(x +- mu),
    X(B)[:, a]                      = P^dag (A W_a) on B  -  sum_{mu, +-} Y_mu^{+-}(B)[:, a],

with W_a = P e_a (basis vector a of every block at once). The Y are computed on the blocks' layers alone: the
neighbour block's layer of the basis brought over by a shift of the coarse lattice (across ranks where it is
split), the level's hopping matrices at the layer's sites applied to it (``level.layer_hop``), and the
contraction with the block's own layer. A W_a is applied by the level's own operator (the backend's stencil for
the finest level, site term included, on fields prolonged and restricted in the row layout,
:mod:`.row_transfer`). A coarse extent of 1 or 2 is handled as the stencil is applied: a hop that leaves its
block is always a Y term, even when it lands in the same coarse site.
"""

import numpy as np

from .coarse import SIGNS, CoarseOperator


def galerkin(level, transfer, index):
    """D_c = P^dag A P of ``level`` (the fine level of coarse level ``index``) with ``transfer`` P, in double."""
    blocking, op, n = transfer.blocking, level.operator, transfer.coarse_dofs
    units = np.broadcast_to(np.eye(n), blocking.coarse_shape + (n, n))              # e_a at every coarse site
    X = np.empty(blocking.coarse_shape + (n, n), dtype=np.complex128)
    for a in range(n):
        X[..., a] = level.restrict(transfer, op(level.prolong(transfer, units[..., a], op.space)))
    Y = [[hopping(level, transfer, mu, sign) for sign in SIGNS] for mu in range(4)]
    X -= sum(y for pair in Y for y in pair)
    return CoarseOperator(blocking.coarse_lattice, X, Y, level=index, backend=level.backend)


def hopping(level, transfer, mu, sign):
    """Y_mu^{sign} (module doc), ``[Tc, Zc, Yc, Xc, N, N]``: the columns of one chirality s' at a time, whose basis
    vectors occupy that chirality's half of a site's dofs alone (``level.layer_hop`` is given that half)."""
    blocking, n_vec = transfer.blocking, transfer.n_vec
    half = blocking.dofs // 2
    leave, enter = blocking.layer(mu, sign), blocking.layer(mu, -sign)
    own = blocking.layer_of_blocks(transfer.basis, mu, leave)                         # [C, 2, n, L, half]
    theirs = blocking.layer_of_blocks(transfer.basis, mu, enter)
    rows = [own[..., r, :, :, :].reshape(own.shape[:4] + (n_vec, -1)).conj() for r in range(2)]  # [C, n, L half]
    hop = level.layer_hop(mu, sign, lambda a: blocking.layer_sites(a, mu, leave))
    Y = np.empty(blocking.coarse_shape + (2 * n_vec, 2 * n_vec), np.complex128)
    for s in range(2):
        w = blocking.coarse_lattice.shift(np.moveaxis(theirs[..., s, :, :, :], -3, -1), mu, sign)  # [C, L, half, n]
        h = hop(w, s)                                                                  # [C, L, dofs, n]
        for r in range(2):
            cols = h[..., r * half:(r + 1) * half, :].reshape(h.shape[:4] + (-1, n_vec))  # [C, L half, n]
            Y[..., r * n_vec:(r + 1) * n_vec, s * n_vec:(s + 1) * n_vec] = np.matmul(rows[r], cols)
    return Y
