"""Mixed-precision BiCGstab with reliable updates (QUDA's inv_bicgstab_quda.cpp), run by
``bicgstab`` when its precisions differ (:mod:`hpcmix.solvers.mixed`).

The residual r, the shadow residual r0, p, v = A p and t = A s are stored in the ``sloppy``
precision and A is the sloppy operator; the partial solution x is accumulated in double, the
solution y in the outer precision. One iteration (van der Vorst):

    v = A p,  alpha = rho / <r0, v>,  s = r - alpha v,  t = A s,  omega = <t, s> / |t|^2,
    x += alpha p + omega s,  r = s - omega t,  rho' = <r0, r>,
    p = r + (rho' / rho)(alpha / omega)(p - omega v).

Reliable update when the iterated |r| has fallen by ``reliable_delta`` relative to the largest
since the last update (:mod:`hpcmix.solvers.reliable`), or claims convergence: y += x, x = 0 and
r = b - A y in the outer precision (the recurrence continues, as in QUDA). The solve ends when the
true residual meets ``tol``. Where t = 0, omega = 0 (x += alpha p, r = s).

A breakdown (rho' = <r0, r> = 0, or <r0, v> = 0) makes a reliable update and restarts the
recurrence from the true residual with a new shadow residual r0 = r (counted in ``restarts``); a point
source as b gives rho' = 0 exactly after one step of the Wilson operator. A breakdown before the
restarted recurrence has completed an iteration is genuine (a further restart would start from the
same state). Genuine breakdowns, and true-residual increases, mean the sloppy precision has stopped
making progress: with ``fallback`` the solve continues in the next precision of the chain,
restarting the recurrence from the true residual; otherwise it stops.
"""

import math

import numpy as np

from ..operators.precision_view import store
from .mixed import MixedSolve, ResidualIncreases, timed
from .reliable import ReliableUpdates


def solve(solver, op, b, x0=None):
    """Solve ``op x = b`` with the parameters of ``solver`` (a :class:`~hpcmix.solvers.bicgstab.BiCGstab`)."""
    ms = MixedSolve(solver, op, b)
    if ms.bnorm == 0:
        return ms.zero_rhs()
    P, result, sp, high, low, bnorm, counts = ms.P, ms.result, ms.space, ms.high, ms.low, ms.bnorm, ms.counts
    y, r = ms.start(x0)
    r2 = sp.norm2(r)
    increases = ResidualIncreases(solver.max_res_increase, solver.max_res_increase_total)
    stop = (solver.tol * bnorm) ** 2
    x = np.zeros(b.shape, np.complex128)
    reason = f"reached maxiter = {solver.maxiter}"
    converged = r2 <= stop
    restart = True
    while not converged and result.iterations < solver.maxiter:
        if restart:   # (re)start the recurrence from the true residual, with shadow residual r0 = r
            trigger = ReliableUpdates(math.sqrt(r2), solver.reliable_delta)
            r_s = store(low.precision, r)
            r0, p, rho = r_s.copy(), r_s.copy(), r2
            started, restart = result.iterations, False
        with timed(result, low.precision.name):
            v = low.operator(p)
            counts["low"] += 1
            r0v = sp.inner(r0, v)
            breakdown = r0v == 0
            if not breakdown:
                alpha = rho / r0v
                s = store(low.precision, r_s - alpha * v)
                t = low.operator(s)
                counts["low"] += 1
                t2 = sp.norm2(t)
                omega = sp.inner(t, s) / t2 if t2 > 0 else 0.0
                x += alpha * p + omega * s
                r_s = store(low.precision, s - omega * t)
                rho_old, rho = rho, sp.inner(r0, r_s)
                breakdown = rho == 0
                r2 = sp.norm2(r_s)
                result.iterations += 1
                result.history.append(math.sqrt(r2) / bnorm)
                update = trigger.evaluate(math.sqrt(r2), 0.0)
                if r2 <= stop:
                    trigger.force()
                    update = True
        if breakdown or update:
            if result.iterations > started:   # the recurrence has progressed since it (re)started
                with timed(result, P.outer.name):
                    y = store(P.outer, y + x).astype(np.complex128, copy=False)
                    x[...] = 0
                    r = b - high(y)
                    counts["high"] += 1
                    r2 = sp.norm2(r)
                    result.reliable_updates += 1
                converged = r2 <= stop
                if converged:
                    break
                if breakdown:   # restart with a new shadow residual, the true residual
                    result.restarts += 1
                    restart = True
                    continue
            if breakdown or increases.record(trigger.increased(math.sqrt(r2))):
                why = (f"breakdown in precision '{low.precision.name}' right after a restart" if breakdown
                       else increases.describe())
                if not low.escalate(result, why, increases):
                    reason = f"stopped: {why}"
                    break
                restart = True
                continue
            trigger.replaced(math.sqrt(r2), 0.0)
            r_s = store(low.precision, r)
        with timed(result, low.precision.name):
            beta = (rho / rho_old) * (alpha / omega) if omega != 0 else 0.0
            p = store(low.precision, r_s + beta * (p - omega * v))
    return ms.finish(y, reason, partial=x)
