"""Multigrid smoothers: steps on A e = r that update a correction e and its residual s in place.

``mr_smooth``: minimal-residual steps with over-relaxation omega on the full system (one operator application per
step, none to start):

    alpha = omega <A s, s> / <A s, A s>,   e += alpha s,   s -= alpha A s.

:class:`EvenOddSmoother`: the same MR steps on the even-odd Schur system of the Wilson(-clover) operator
(DESIGN.md's asymmetric Schur complement on the even sites, Mhat = A_ee - (1/4) D_eo A_oo^-1 D_oe): with
bhat = prepare(s) = s_e + (1/2) D_eo A_oo^-1 s_o, x_e from MR steps on Mhat x_e = bhat from 0, and
de = reconstruct(x_e, s) (de_o = A_oo^-1 (s_o + (1/2) D_oe x_e)), the new residual s - M de vanishes on the odd
sites and equals the Schur residual bhat - Mhat x_e on the even ones, which MR has iterated: so a smoothing pass
costs its MR steps plus two hopping terms, and no extra application of M.

Inside a preconditioner the iterated residual s is only passed on (to the coarse grid or the caller); no
convergence is claimed from it. Fields and arithmetic in the precision of the operator and fields given.
"""

from ...precision import DOUBLE


def mr_smooth(op, e, s, steps, omega):
    """``steps`` MR steps on (e, s) = (correction, its residual), in place; returns the operator applications."""
    sp = op.space
    for step in range(steps):
        a_s = op(s)
        norm = sp.norm2(a_s)
        if norm == 0:                      # s = 0: nothing left to smooth
            return step + 1
        alpha = omega * sp.inner(a_s, s) / norm
        sp.caxpy(alpha, s, e)
        sp.caxpy(-alpha, a_s, s)
    return steps


class EvenOddSmoother:
    """MR steps on the even Schur system of ``fields`` (a WilsonFields), in the precision of the operator given."""

    def __init__(self, fields):
        self.fields = fields.at(DOUBLE)
        self._schur = {}

    def __call__(self, op, e, s, steps, omega):
        """``steps`` MR steps on Mhat (module doc) from (e, s) on FullFields, in place; returns the applications
        of M they cost (Mhat and the two hops of prepare and reconstruct counted as one M each)."""
        if steps == 0:
            return 0
        key = (op.precision.name, op.reconstruct)
        if key not in self._schur:
            self._schur[key] = self.fields.at(op.precision, op.reconstruct).schur(0)
        mhat, prepare, reconstruct = self._schur[key]
        even, odd = op.space.spaces
        bhat = prepare(s)
        x = even.zeros_like(bhat)
        applied = mr_smooth(mhat, x, bhat, steps, omega)
        op.space.axpy(1.0, reconstruct(x, s), e)
        even.lincomb(s[0], (1.0,), (bhat,))
        odd.zero(s[1])
        return applied + 1
