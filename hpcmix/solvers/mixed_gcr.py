"""Mixed-precision flexible GCR (QUDA's inv_gcr_quda.cpp), run by ``gcr`` when its precisions differ
(:mod:`hpcmix.solvers.mixed`), including where only ``precision_preconditioner`` differs from
``precision``.

The outer loop works in the outer precision (``precision``): the solution y and the true residual
b - A y. Each cycle runs in the ``sloppy`` precision from the true residual, stored sloppy: z = K r
(K the preconditioner, applied to ``op.at(precision_preconditioner, reconstruct_sloppy)`` and
working entirely in that precision; identity without one), q = A_sloppy z, q and z orthogonalized
against the cycle's earlier q_i (modified Gram-Schmidt), then x += <q, r>/<q, q> z (x accumulated
in double) and r -= <q, r>/<q, q> q. A cycle ends after ``nkrylov`` steps, when |r| has fallen by
``reliable_delta`` since the cycle began, or when it claims convergence; then y += x and the true
residual is recomputed in the outer precision (a reliable update) and the next cycle restarts from
it. A true residual above the previous one counts as an increase; past ``max_res_increase`` /
``max_res_increase_total`` the sloppy precision falls back (``fallback``) or the solve stops.

The preconditioner's inner iterations are reported as ``preconditioner_iterations`` and its wall
time as ``timings["preconditioner (<its precision>)"]``, apart from the sloppy cycles' time.
"""

import math

import numpy as np

from ..operators.precision_view import store
from .mixed import MixedSolve, ResidualIncreases, confined, timed


class Preconditioner:
    """z = K r with K = ``solver`` applied to ``op`` (from zero), accounted in ``result``: K's inner
    iterations added to ``preconditioner_iterations``, its flops to ``flops``, its wall time to
    ``timings[key]`` with ``key`` = "preconditioner (<op's precision>)"."""

    def __init__(self, solver, op, result):
        self.inverse, self.result = solver(op), result
        self.key = f"preconditioner ({op.precision.name})"

    def __call__(self, r):
        with timed(self.result, self.key):
            inner = self.inverse.solve(r)
        self.result.preconditioner_iterations += inner.iterations
        self.result.flops += inner.flops
        return inner.x


def solve(solver, op, b, x0=None):
    """Solve ``op x = b`` with the parameters of ``solver`` (a :class:`~hpcmix.solvers.gcr.GCR`)."""
    ms = MixedSolve(solver, op, b)
    if ms.bnorm == 0:
        return ms.zero_rhs()
    P, result, sp, low, bnorm = ms.P, ms.result, ms.space, ms.low, ms.bnorm
    precondition = None
    if solver.preconditioner is not None:
        rc = P.reconstruct_for(P.preconditioner)
        inner = confined(solver.preconditioner, P.preconditioner, rc)
        precondition = Preconditioner(inner, op.at(P.preconditioner, rc), result)
    y, s = ms.start(x0)
    res = math.sqrt(sp.norm2(s)) / bnorm
    increases = ResidualIncreases(solver.max_res_increase, solver.max_res_increase_total)
    reason = f"reached maxiter = {solver.maxiter}"
    while res > solver.tol and result.iterations < solver.maxiter:
        x, breakdown = cycle(solver, ms, s, precondition)
        y, s, new = ms.correct(y, x)
        result.reliable_updates += 1
        if new <= solver.tol:
            res = new
            break
        result.restarts += 1
        if breakdown or increases.record(new > res):
            why = f"breakdown: A z = 0 in precision '{low.precision.name}'" if breakdown else increases.describe()
            if not low.escalate(result, why, increases):
                reason = f"stopped: {why}"
                break
        res = new
    return ms.finish(y, reason)


def cycle(solver, ms, s, precondition):
    """One sloppy GCR cycle from the true residual s (stored sloppy as r); returns (the correction x,
    in double; whether it ended by a breakdown A z = 0)."""
    result, sp, low, bnorm = ms.result, ms.space, ms.low, ms.bnorm
    with timed(result, low.precision.name):
        r = store(low.precision, s)
        r_start = math.sqrt(sp.norm2(r))
        x = np.zeros(r.shape, np.complex128)
    zs, qs, qq = [], [], []
    for _ in range(solver.nkrylov):
        z = store(low.precision, precondition(r)) if precondition is not None else r.copy()
        with timed(result, low.precision.name):
            q = low.operator(z)
            ms.counts["low"] += 1
            for zi, qi, qqi in zip(zs, qs, qq):
                beta = sp.inner(qi, q) / qqi
                q = q - beta * qi
                z = z - beta * zi
            q, z = store(low.precision, q), store(low.precision, z)
            q2 = sp.norm2(q)
            if q2 == 0:
                return x, True
            alpha = sp.inner(q, r) / q2
            x += alpha * z
            r = store(low.precision, r - alpha * q)
            zs.append(z)
            qs.append(q)
            qq.append(q2)
            result.iterations += 1
            rnorm = math.sqrt(sp.norm2(r))
            result.history.append(rnorm / bnorm)
        if (rnorm <= solver.tol * bnorm or rnorm < solver.reliable_delta * r_start
                or result.iterations >= solver.maxiter):
            break
    return x, False
