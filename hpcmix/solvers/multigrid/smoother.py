"""Multigrid smoothers: steps on A e = r that update a correction e and its residual s in place.

``mr_smooth``: minimal-residual steps with over-relaxation omega on the full system (one operator application per
step, none to start):

    alpha = omega <A s, s> / <A s, A s>,   e += alpha s,   s -= alpha A s.

:class:`GCRSmoother`: GCR without restart (QUDA's GCR smoother; omega unused), the residual minimized over the whole
Krylov space of its steps rather than along the last direction only:

    p_k = s_k,  q_k = A p_k - sum_{i<k} beta_i q_i,  p_k -= sum_{i<k} beta_i p_i,  beta_i = <q_i, A p_k> / <q_i, q_i>,
    alpha_k = <q_k, s_k> / <q_k, q_k>,  s_{k+1} = s_k - alpha_k q_k;  at the end e += sum_k alpha_k p_k.

MR is GCR(1) restarted every step: where A's spectrum surrounds the origin (Wilson near and past its critical
kappa: on l8888 at kappa 0.157, M has eigenvalues -0.005 +- 0.199i), MR's steps cancel on those modes and its
smoothing stalls (8^4, 4^4 blocks, the coarsest by LU: 21 outer iterations with 8, 16 or 32 MR steps alike),
where GCR's polynomial keeps reducing them (15 with 8 steps, 8 with 16). Its orthogonalization makes a step
dearer: at 16^4, 12 GCR steps save a quarter of the outer iterations of 8 MR steps in about the same time, so MR
stays the default.

:class:`EvenOddSmoother`: the same steps (MR or GCR) on the even-odd Schur system of the Wilson(-clover) operator
(DESIGN.md's asymmetric Schur complement on the even sites, Mhat = A_ee - (1/4) D_eo A_oo^-1 D_oe): with
bhat = prepare(s) = s_e + (1/2) D_eo A_oo^-1 s_o, x_e from the steps on Mhat x_e = bhat from 0, and
de = reconstruct(x_e, s) (de_o = A_oo^-1 (s_o + (1/2) D_oe x_e)), the new residual s - M de vanishes on the odd
sites and equals the Schur residual bhat - Mhat x_e on the even ones, which the steps have iterated: so a
smoothing pass costs its steps plus two hopping terms, and no extra application of M.

Inside a preconditioner the iterated residual s is only passed on (to the coarse grid or the caller); no
convergence is claimed from it. Fields and arithmetic in the precision of the operator and fields given.
"""

import numpy as np

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


class GCRSmoother:
    """GCR smoothing steps (module doc) on (e, s), in place. The steps' p and q are kept in two blocks of the
    operator's space (:mod:`hpcmix.fields.block`; ``steps`` fields each in the operator's precision, allocated
    on the first call for a space and kept), so that classical Gram-Schmidt against the mutually orthogonal
    q_i is one ``block_inner`` and two ``block_lincomb`` passes whatever the step, and the final update of e
    one more."""

    def __init__(self):
        self._blocks = {}

    def _pair(self, sp, precision, steps):
        key = (id(sp), precision.name, steps)
        if key not in self._blocks or self._blocks[key][0] is not sp:
            self._blocks[key] = (sp, sp.block(steps, precision), sp.block(steps, precision))
        return self._blocks[key][1:]

    def __call__(self, op, e, s, steps, omega=None):
        """``steps`` GCR steps (``omega`` unused); returns the operator applications."""
        if steps == 0:
            return 0
        sp = op.space
        P, Q = self._pair(sp, op.precision, steps)
        qq, alphas = np.zeros(steps), []
        for k in range(steps):
            p = P.store(k, 1.0, s)
            q = op(p)
            if k:
                beta = sp.block_inner(Q.head(k), q) / qq[:k]
                sp.block_lincomb(q, -beta, Q.head(k), accumulate=True)
                sp.block_lincomb(p, -beta, P.head(k), accumulate=True)
            q2 = sp.norm2(q)
            if q2 == 0:                    # s = 0 or A p in the span of the earlier q: nothing left to gain
                break
            alpha = sp.inner(q, s) / q2
            sp.caxpy(-alpha, q, s)
            Q.store(k, 1.0, q)
            qq[k] = q2
            alphas.append(alpha)
        if alphas:
            sp.block_lincomb(e, alphas, P.head(len(alphas)), accumulate=True)
        return steps


#: The smoothers by ``smoother_kind``: factories of the step functions ``f(op, e, s, steps, omega)``.
SMOOTHERS = {"mr": lambda: mr_smooth, "gcr": GCRSmoother}


class EvenOddSmoother:
    """``smooth`` (MR or GCR steps) on the even Schur system of ``fields`` (a WilsonFields), in the precision of
    the operator given."""

    def __init__(self, fields, smooth=mr_smooth):
        self.fields = fields.at(DOUBLE)
        self.smooth = smooth
        self._schur = {}

    def __call__(self, op, e, s, steps, omega):
        """``steps`` smoothing steps on Mhat (module doc) from (e, s) on FullFields, in place; returns the applications
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
        applied = self.smooth(mhat, x, bhat, steps, omega)
        op.space.axpy(1.0, reconstruct(x, s), e)
        even.lincomb(s[0], (1.0,), (bhat,))
        odd.zero(s[1])
        return applied + 1
