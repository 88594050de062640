"""Multigrid smoothers: steps on A e = r that update a correction e and its residual s in place.

``mr_smooth``: minimal-residual steps with over-relaxation omega on the full system (one operator application per
step, none to start):

    alpha = omega <A s, s> / <A s, A s>,   e += alpha s,   s -= alpha A s.

``gcr_smooth``: GCR without restart (QUDA's GCR smoother; omega unused), the residual minimized over the whole
Krylov space of its steps rather than along the last direction only:

    p_k = s_k,  q_k = A p_k - sum_{i<k} beta_i q_i,  p_k -= sum_{i<k} beta_i p_i,  beta_i = <q_i, A p_k> / <q_i, q_i>,
    alpha_k = <q_k, s_k> / <q_k, q_k>,  s_{k+1} = s_k - alpha_k q_k;  at the end e += sum_k alpha_k p_k.

MR is GCR(1) restarted every step: where A's spectrum surrounds the origin (Wilson near and past its critical
kappa: on l8888 at kappa 0.157, eigenvalues -0.005 +- 0.199i), MR's steps cancel on those modes and its smoothing
stalls (8^4, 4^4 blocks, the coarsest by LU: 21 outer iterations with 8, 16 or 32 MR steps alike), where GCR's
polynomial keeps reducing them (15 with 8 steps, 8 with 16).

:class:`EvenOddSmoother`: the same steps (MR or GCR) on the even-odd Schur system of the Wilson(-clover) operator
(DESIGN.md's asymmetric Schur complement on the even sites, Mhat = A_ee - (1/4) D_eo A_oo^-1 D_oe): with
bhat = prepare(s) = s_e + (1/2) D_eo A_oo^-1 s_o, x_e from the steps on Mhat x_e = bhat from 0, and
de = reconstruct(x_e, s) (de_o = A_oo^-1 (s_o + (1/2) D_oe x_e)), the new residual s - M de vanishes on the odd
sites and equals the Schur residual bhat - Mhat x_e on the even ones, which the steps have iterated: so a
smoothing pass costs its steps plus two hopping terms, and no extra application of M.

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


def gcr_smooth(op, e, s, steps, omega=None):
    """``steps`` GCR steps on (e, s), in place (module doc; classical Gram-Schmidt against the mutually
    orthogonal q_i, in fused passes); returns the operator applications."""
    sp = op.space
    ps, qs, qq, alphas = [], [], [], []
    for _ in range(steps):
        p = sp.copy(s)
        q = op(p)
        minus = [-sp.inner(qi, q) / qqi for qi, qqi in zip(qs, qq)]
        add_combination(sp, q, minus, qs)
        add_combination(sp, p, minus, ps)
        q2 = sp.norm2(q)
        if q2 == 0:                        # s = 0 or A p in the span of the earlier q: nothing left to gain
            break
        alpha = sp.inner(q, s) / q2
        sp.caxpy(-alpha, q, s)
        ps.append(p)
        qs.append(q)
        qq.append(q2)
        alphas.append(alpha)
    add_combination(sp, e, alphas, ps)
    return steps


def add_combination(sp, out, coeffs, fields, fused=3):
    """out += sum_i c_i f_i, ``fused`` fields per pass (the backend compiles a kernel per number of inputs: a
    few arities serve every number of steps)."""
    for i in range(0, len(fields), fused):
        sp.lincomb(out, (1.0, *coeffs[i:i + fused]), (out, *fields[i:i + fused]))


SMOOTHERS = {"mr": mr_smooth, "gcr": gcr_smooth}


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
