"""The Galerkin coarse operator D_c = P^dag A P as a stencil (:class:`~.coarse.CoarseOperator`), computed once.

With W_a = P e_a (basis vector a of every block at once, :meth:`~.transfer.Transfer.unit_vectors`),
H_mu^{+-} the hopping terms of A (``level.hop``) and mask_mu^{+-} the indicator of the fine sites whose hop leaves
their block (the block's last layer along mu for +, its first for -):

    Y_mu^{+-}(B)[:, a] = P^dag (mask_mu^{+-} H_mu^{+-} W_a) on block B   (restricted from that layer alone),
    X(B)[:, a]         = P^dag (A W_a) on B  -  sum_{mu, +-} Y_mu^{+-}(B)[:, a].

A W_a is applied by the level's own operator (the backend's stencil for the finest level, site term included, on
fields prolonged and restricted in the row layout, :mod:`.row_transfer`);
only the block-leaving hops are computed from the hopping matrices, on the sites of that layer alone. A coarse
extent of 1 or 2 is handled as the stencil is applied: a hop that leaves its block is always a Y term, even when
it lands in the same coarse site.
"""

import numpy as np

from .coarse import SIGNS, CoarseOperator


def galerkin(level, transfer, index, chunk=8):
    """D_c = P^dag A P of ``level`` (the fine level of coarse level ``index``) with ``transfer`` P, in double;
    ``chunk`` columns a at a time (the fine arrays of a chunk are what the product holds in memory)."""
    blocking, op, n = transfer.blocking, level.operator, transfer.coarse_dofs
    X = np.empty(blocking.coarse_shape + (n, n), dtype=np.complex128)
    units = np.broadcast_to(np.eye(n), blocking.coarse_shape + (n, n))              # e_a at every coarse site
    Y = [[np.empty_like(X) for _ in SIGNS] for _ in range(4)]
    for start in range(0, n, chunk):
        cols = slice(start, min(start + chunk, n))
        w = transfer.unit_vectors(range(n)[cols])                             # [T, Z, Y, X, dofs, chunk]
        for a in range(n)[cols]:
            X[..., a] = level.restrict(transfer, op(level.prolong(transfer, units[..., a], op.space)))
        for mu in range(4):
            for i, sign in enumerate(SIGNS):
                sites = blocking.face_sites(mu, sign)
                y = transfer.restrict_face(level.hop(w, mu, sign, sites), mu, sign)
                Y[mu][i][..., cols] = y
                X[..., cols] -= y
    return CoarseOperator(blocking.coarse_lattice, X, Y, level=index, backend=level.backend)
