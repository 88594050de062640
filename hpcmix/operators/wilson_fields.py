"""The Wilson and Wilson-clover operators on a backend's even-odd fields (the fast path of even-odd solves).

The same operator as :class:`~hpcmix.operators.wilson.WilsonDirac` (its conventions: M = A - D_w / 2,
DeGrand-Rossi gammas, boundary phases on the last global slice), applied by backend kernels to
half-lattice :class:`~hpcmix.fields.field.Field` s in one storage precision: ``wilson_hop`` (D_w from
one parity to the other, links in the precision with ``reconstruct``), ``site_blocks`` (the clover
site term, two 6x6 blocks per site in chirality, stored in the precision's real type), ``lincomb``
(the Wilson site term 4 + m folds into its coefficients) and ``gamma5``.

The asymmetric Schur complement on parity p (DESIGN.md), with q = 1 - p:

    Mhat x = A_pp x - (1/4) D_pq A_qq^-1 D_qp x,
    Mhat^dag = gamma5 (A^dag_pp - (1/4) D_pq A^-dag_qq D_qp) gamma5

(D^dag = gamma5 D gamma5, and A commutes with gamma5, being block diagonal in chirality). Every
field an operator writes, intermediate ones included, is stored in its precision; its input is
converted to it first. Layout, spaces, views and the overlapped hopping term are
:class:`~hpcmix.operators.field_operator.FieldOperator`'s.
"""

import numpy as np

from ..errors import HpcmixError
from ..fields.full import FullField
from ..fields.links import RowLinks
from .base import LinearOperator
from .field_operator import FieldOperator


def chiral_blocks(layout, parity, matrices, real_dtype):
    """The 12x12 site matrices ``matrices[t, z, y, x, 12, 12]`` (index 3 spin + colour) of ``parity`` as
    ``[row, 144, Xh]`` reals of their two 6x6 diagonal blocks (spins (0, 1) and (2, 3)); a matrix that
    mixes the chiralities is an error."""
    m = layout.to_rows(matrices, parity)                                  # [nrows, Xh, 12, 12]
    off = max(np.abs(m[..., :6, 6:]).max(initial=0.0), np.abs(m[..., 6:, :6]).max(initial=0.0))
    if off > 1e-12 * max(np.abs(m).max(initial=0.0), 1.0):
        raise HpcmixError("the site term mixes the two chiralities (gamma5 does not commute with it); the "
                          "backend's even-odd fields need it block diagonal in chirality")
    blocks = np.stack([m[..., :6, :6], m[..., 6:, 6:]], axis=2)              # [nrows, Xh, 2, 6, 6]
    reals = np.ascontiguousarray(blocks).reshape(m.shape[:2] + (72,)).view(np.float64)
    return np.ascontiguousarray(np.swapaxes(reals, 1, 2)).astype(real_dtype)


class WilsonFields(FieldOperator):
    """``dirac`` (a :class:`~hpcmix.operators.wilson.WilsonDirac`) on ``backend``'s half-lattice fields
    stored in ``precision`` with links compressed to ``reconstruct``; :meth:`at` gives it in others."""

    hop_kernel = "wilson_hop"
    site_shape = (4, 3)

    def __init__(self, *args, **kwargs):
        self._blocks = {}
        super().__init__(*args, **kwargs)
        self._k = {name: self.backend.kernel(name) for name in ("site_blocks", "gamma5")}

    def face_kernels(self):
        """Faces travel spin-projected: half spinors h = psi_up + s B psi_down, half the bytes of a spinor."""
        return self.backend.kernel("wilson_face_pack"), self.backend.kernel("wilson_face_unpack")

    def make_links(self):
        return RowLinks.wilson(self.layout, self.dirac.gauge.U, self.precision, self.reconstruct, self.dirac.boundary,
                               self.backend)

    def blocks(self, parity, inverse, dagger):
        """The clover site term A (or A^-1, A^dag, A^-dag) of ``parity`` as chiral blocks (built once)."""
        key = (parity, inverse, dagger)
        if key not in self._blocks:
            a = self.dirac.clover_inv if inverse else self.dirac.clover
            if dagger:
                a = np.conj(np.swapaxes(a, -1, -2))
            self._blocks[key] = self.backend.asarray(chiral_blocks(self.layout, parity, a,
                                                                   self.precision.real_dtype))
        return self._blocks[key]

    def site(self, x, inverse=False, dagger=False, out=None):
        """A x (A^-1 x, A^dag x, A^-dag x) with the clover site term; None for Wilson, whose site term is
        the scalar 4 + m (folded into the coefficients of the caller's ``lincomb``)."""
        if self.dirac.clover is None:
            return None
        out = self.new(x.parity) if out is None else out
        self._k["site_blocks"](out, x, self.blocks(x.parity, inverse, dagger))
        return out

    def _site_or_scale(self, out, a, x, c, y, dagger=False):
        """out = A x + c y, A the site term: a lincomb with a = 4 + m for Wilson (``out`` may be ``y``)."""
        ax = self.site(x, dagger=dagger)
        sp = self.spaces[out.parity]
        return sp.lincomb(out, (a, c), (x, y)) if ax is None else sp.lincomb(out, (1.0, c), (ax, y))

    def mhat(self, x, dagger=False):
        """The Schur complement (or its adjoint) on ``x``'s parity (module doc)."""
        x = self._gamma5(self.stored(x)) if dagger else self.stored(x)
        t = self.hop(x)
        s = self.site(t, inverse=True, dagger=dagger)
        u = self.hop(t if s is None else s)
        d = self.dirac.diagonal
        out = self._site_or_scale(u, d, x, -0.25 if s is not None else -0.25 / d, u, dagger)
        if dagger:
            self._k["gamma5"](out, out)
        return out

    def schur(self, parity=0):
        """(Mhat, prepare, reconstruct) on sites of ``parity`` (DESIGN.md's asymmetric Schur complement):
        prepare(b) = b_p + (1/2) D_pq A_qq^-1 b_q, reconstruct(x_p, b) = (x_p, A_qq^-1 (b_q + (1/2) D_qp x_p)),
        on :class:`FullField` s."""
        q = 1 - parity
        d = self.dirac.diagonal
        op = LinearOperator(self.spaces[parity], self.mhat, lambda x: self.mhat(x, dagger=True), flops=self.flops,
                            name="Mhat_ee", precision=self.precision, reconstruct=self.reconstruct,
                            at=lambda p, r: self.at(p, r).schur(parity)[0])

        def prepare(b):
            bq = self.stored(b[q])
            s = self.site(bq, inverse=True)
            u = self.hop(bq if s is None else s)
            return self.spaces[parity].lincomb(u, (1.0, 0.5 if s is not None else 0.5 / d), (self.stored(b[parity]), u))

        def reconstruct(x, b):
            x = self.stored(x)
            u = self.hop(x)
            bq = self.stored(b[q])
            if self.dirac.clover is None:
                xq = self.spaces[q].lincomb(u, (1.0 / d, 0.5 / d), (bq, u))
            else:
                xq = self.site(self.spaces[q].lincomb(u, (1.0, 0.5), (bq, u)), inverse=True)
            return FullField(x, xq) if parity == 0 else FullField(xq, x)

        return op, prepare, reconstruct

    def _gamma5(self, x):
        out = self.new(x.parity)
        self._k["gamma5"](out, x)
        return out

    def full(self, x, dagger=False):
        """M x = A x - D_w x / 2 on a :class:`FullField`, or M^dag x = gamma5 (A^dag - D_w / 2) gamma5 x."""
        parts = [self._gamma5(self.stored(x[p])) if dagger else self.stored(x[p]) for p in (0, 1)]
        out = [self._site_or_scale(u, self.dirac.diagonal, parts[p], -0.5, u, dagger)
               for p, u in ((p, self.hop(parts[1 - p])) for p in (0, 1))]
        if dagger:
            for o in out:
                self._k["gamma5"](o, o)
        return FullField(*out)

    def operator(self):
        """M on :class:`FullField` s (the full system, and its true residual)."""
        return LinearOperator(self.space, self.full, lambda x: self.full(x, dagger=True), flops=self.flops, name="M",
                              precision=self.precision, reconstruct=self.reconstruct,
                              at=lambda p, r: self.at(p, r).operator())
