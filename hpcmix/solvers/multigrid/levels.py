"""What the multigrid setup asks of one level's operator A, whatever its fields are:

- ``lattice`` (its local geometry and process grid) and ``dofs`` (complex components per site, chirality +1
  in the first half);
- ``operator``: A in double, a LinearOperator on the level's own fields;
- ``to_array(x)`` / ``from_array(a, precision)``: a field as the canonical complex128 array ``[T, Z, Y, X, dofs]``
  and back (stored in ``precision``);
- ``restrict(transfer, x)`` / ``prolong(transfer, c, space, precision)``: P^dag x of a field (the coarse canonical
  array) and P c as a field of ``space`` in ``precision``, for the level's ``transfer`` (:mod:`.transfer`; the
  finest level applies it to its row-layout fields directly, :mod:`.row_transfer`);
- ``layer_hop(mu, sign, layer)``: the hopping term of A from direction sign mu alone, A(x, x + sign mu), at
  the sites x of one layer of every block (``layer`` selects them from a per-site array), as a function of m
  vectors of one chirality at the neighbours x + sign mu: the Galerkin product needs the terms that leave a
  block apart from the rest of A;
- ``relax(solver, x0)``: (v, the solver's iterations), x0 relaxed against A v = 0 by ``solver`` (:mod:`.nullspace`).

:class:`WilsonLevel` is the finest level: Wilson(-clover) M = A_site - D_w / 2 on a backend's even-odd
fields, applied by the backend; its hopping terms, from the operator's own boundary-phased links
(DeGrand-Rossi gammas, DESIGN.md), are

    A(x, x + mu) = -(1/2) (1 - g_mu) U_mu(x),      A(x, x - mu) = -(1/2) (1 + g_mu) U_mu(x - mu)^dag.

:class:`CoarseLevel` is a coarse operator (:class:`~.coarse.CoarseOperator`) seen as the fine level of the
next coarsening.
"""

import numpy as np

from ...errors import HpcmixError
from ...operators.gamma import P_MINUS, P_PLUS
from ...precision import DOUBLE
from .coarse import SIGNS
from .row_transfer import RowTransfer


class WilsonLevel:
    """The finest level: ``fields`` (a :class:`~hpcmix.operators.wilson_fields.WilsonFields`) in double."""

    dofs = 12

    def __init__(self, fields):
        if getattr(fields, "site_shape", None) != (4, 3) or not hasattr(fields, "schur"):
            raise HpcmixError(f"multigrid needs a Wilson or Wilson-clover operator on backend fields (a WilsonFields), "
                              f"got {type(fields).__name__}")
        self.fields = fields.at(DOUBLE)
        self.lattice = fields.lattice
        self.operator = self.fields.operator()
        self.links = self.fields.dirac.links          # U_mu(x) with the boundary phases, canonical
        self.backend = fields.backend                 # the coarse levels' stencil kernel comes from it
        self._rows = None                             # (transfer, its RowTransfer): the last one asked for

    def row_transfer(self, transfer):
        """``transfer`` on this level's row-layout fields, kept for the next call with the same transfer (the
        Galerkin product's double one is dropped when the K-cycle asks for its own)."""
        if self._rows is None or self._rows[0] is not transfer:
            self._rows = None
            self._rows = (transfer, RowTransfer(transfer, self.fields))
        return self._rows[1]

    def restrict(self, transfer, x):
        return self.row_transfer(transfer).restrict(x)

    def prolong(self, transfer, c, space, precision=DOUBLE):
        return self.row_transfer(transfer).prolonged(c, space, precision)

    def to_array(self, x):
        return self.fields.export_field(x).reshape(self.lattice.shape + (12,))

    def from_array(self, a, precision=DOUBLE):
        x = self.fields.import_field(np.asarray(a).reshape(self.lattice.shape + (4, 3)))
        return x if precision is DOUBLE else self.operator.space.convert(x, precision)

    def relax(self, solver, x0):
        """x0 relaxed on the even-odd system: v_e = x0_e - e with Mhat e = Mhat x0_e solved by ``solver``, then
        v_o = A_oo^-1 (1/2) D_oe v_e (the reconstruction for b = 0), so that M v = (Mhat v_e, 0): a near-null
        vector of Mhat gives one of M, at the cost of the better-conditioned, half-volume Schur solve."""
        mhat, _, reconstruct = self.fields.schur(0)
        sp = mhat.space
        result = solver(mhat).solve(mhat(x0[0]))
        v_e = sp.axpy(-1.0, result.x, sp.copy(x0[0]))
        return reconstruct(v_e, self.operator.space.zeros_like(x0)), result.iterations

    def layer_hop(self, mu, sign, layer):
        """The hopping term of direction sign mu (module doc) at the sites ``layer`` selects (it maps a per-site
        canonical array ``[T, Z, Y, X, ...]`` to those sites, ``[..., L, ...]``), as a function ``hop(w, s)`` of
        ``w[..., L, 6, m]``: m vectors of chirality s (spins 2 s, 2 s + 1) at the neighbours x + sign mu;
        ``hop`` returns A(x, x + sign mu) w(x + sign mu), ``[..., L, 12, m]``."""
        lat = self.lattice
        u = self.links[mu] if sign > 0 else np.conj(np.swapaxes(lat.shift(self.links[mu], mu, -1), -1, -2))
        u = layer(u)[..., None, :, :]                                                  # U_mu(x) or U_mu(x - mu)^dag
        spin = -0.5 * (P_MINUS[mu] if sign > 0 else P_PLUS[mu])

        def hop(w, s):
            t = np.matmul(u, w.reshape(w.shape[:-2] + (2, 3, -1)))                     # [..., L, 2, 3, m]
            out = np.matmul(spin[:, 2 * s:2 * s + 2], t.reshape(t.shape[:-3] + (2, -1)))
            return out.reshape(w.shape[:-2] + (12, -1))
        return hop


class CoarseLevel:
    """A coarse operator as the fine level of the next coarsening (its fields are canonical arrays)."""

    def __init__(self, coarse):
        self.operator = coarse.at(DOUBLE)
        self.lattice, self.dofs, self.backend = coarse.lattice, coarse.dofs, coarse.backend

    def layer_hop(self, mu, sign, layer):
        """``hop(w, s)``: Y_mu^{sign}(x) w(x + sign mu) at the sites ``layer`` selects, for w of chirality s (the
        first or second half of the dofs; :meth:`WilsonLevel.layer_hop`)."""
        y = layer(self.operator.Y[mu][SIGNS.index(sign)])
        half = self.dofs // 2
        return lambda w, s: np.matmul(y[..., s * half:(s + 1) * half], w)

    def relax(self, solver, x0):
        """x0 - e with A e = A x0 solved by ``solver`` (the full coarse system)."""
        result = solver(self.operator).solve(self.operator(x0))
        return self.operator.space.axpy(-1.0, result.x, self.operator.space.copy(x0)), result.iterations

    @staticmethod
    def restrict(transfer, x):
        return transfer.restrict(x)

    @staticmethod
    def prolong(transfer, c, space=None, precision=DOUBLE):
        return precision.round(transfer.prolong(c))

    @staticmethod
    def to_array(x):
        return np.asarray(x, dtype=np.complex128)

    @staticmethod
    def from_array(a, precision=DOUBLE):
        return precision.round(a)
