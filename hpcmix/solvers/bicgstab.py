"""BiCGstab (van der Vorst) for non-Hermitian A x = b with reliable updates (QUDA's
inv_bicgstab_quda.cpp): one loop for every precision.

The residual r, the shadow residual r0, p, v = A p and t = A s are stored in the ``sloppy``
precision and A is the sloppy operator; the partial solution x is accumulated in double, the
solution y in the outer precision. Uniform precision is the case sloppy = precision, where the
sloppy operator is the outer one and a reliable update is a cheap recomputation of the true residual.
One iteration (van der Vorst):

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
restarting the recurrence from the true residual; otherwise, and at the end of the chain, it stops. So
does stagnation, an iterated residual that has not halved in ``stagnation_window`` iterations (on an
indefinite operator BiCGstab wanders; :class:`~hpcmix.solvers.fallback.Stagnation`).
"""

import math

import numpy as np

from .base import Solver
from .fallback import STAGNATION_PARAMS, STAGNATION_WINDOW, ResidualIncreases, Stagnation
from .mixed_solve import MixedSolve, timed
from .precisions import MIXED_PARAMS, MixedPrecision
from .reliable import ReliableUpdates


class BiCGstab(MixedPrecision, Solver):
    name = "bicgstab"
    description = "stabilized bi-conjugate gradient with reliable updates"
    params = dict(Solver.params, **MIXED_PARAMS, **STAGNATION_PARAMS)

    def __init__(self, stagnation_window=STAGNATION_WINDOW, **kw):
        super().__init__(stagnation_window=stagnation_window, **kw)

    def solve(self, op, b, x0=None):
        ms = MixedSolve(self, op, b)
        if ms.bnorm == 0:
            return ms.zero_rhs()
        P, result, sp, low, bnorm = ms.P, ms.result, ms.space, ms.low, ms.bnorm
        y, r = ms.start(x0)
        r2 = sp.norm2(r)
        increases = ResidualIncreases(self.max_res_increase, self.max_res_increase_total)
        stagnation = Stagnation(self.stagnation_window)
        stop = (self.tol * bnorm) ** 2
        x = sp.zeros_like(b, np.complex128)
        reason = f"reached maxiter = {self.maxiter}"
        converged = r2 <= stop
        restart = True
        while not converged and result.iterations < self.maxiter:
            if restart:   # (re)start the recurrence from the true residual, with shadow residual r0 = r
                trigger = ReliableUpdates(math.sqrt(r2), self.reliable_delta)
                r_s = sp.convert(r, low.precision)
                r0, p, rho = sp.copy(r_s), sp.copy(r_s), r2
                started, restart = result.iterations, False
            with timed(result, low.precision.name):
                v = low.operator(p)
                ms.counts["low"] += 1
                r0v = sp.inner(r0, v)
                breakdown, stalled = r0v == 0, False
                if not breakdown:
                    alpha = rho / r0v
                    s = sp.convert(sp.caxpy(-alpha, v, sp.copy(r_s)), low.precision)
                    t = low.operator(s)
                    ms.counts["low"] += 1
                    t2 = sp.norm2(t)
                    omega = sp.inner(t, s) / t2 if t2 > 0 else 0.0
                    sp.axpbypz(alpha, p, omega, s, x)
                    r_s = sp.convert(sp.caxpy(-omega, t, s), low.precision)
                    rho_old, rho = rho, sp.inner(r0, r_s)
                    breakdown = rho == 0
                    r2 = sp.norm2(r_s)
                    result.step(math.sqrt(r2) / bnorm)
                    update = trigger.evaluate(math.sqrt(r2), 0.0)
                    stalled = stagnation.record(result.iterations, math.sqrt(r2) / bnorm)
                    if r2 <= stop or stalled:
                        trigger.force()
                        update = True
            if breakdown or update:
                if result.iterations > started:   # the recurrence has progressed since it (re)started
                    with timed(result, P.outer.name):
                        y = ms.fold(y, x)
                        sp.zero(x)
                        r = ms.residual(y)
                        r2 = sp.norm2(r)
                        result.reliable_update()
                    converged = r2 <= stop
                    if converged:
                        break
                    if breakdown:   # restart with a new shadow residual, the true residual
                        result.restarts += 1
                        restart = True
                        continue
                if breakdown or stalled or increases.record(trigger.increased(math.sqrt(r2))):
                    why = (f"breakdown in precision '{low.precision.name}' right after a restart" if breakdown
                           else stagnation.describe() if stalled else increases.describe())
                    if not low.escalate(result, why, increases):
                        reason = f"stopped: {why}"
                        break
                    stagnation.reset(result.iterations)
                    restart = True
                    continue
                trigger.replaced(math.sqrt(r2), 0.0)
                r_s = sp.convert(r, low.precision)
            with timed(result, low.precision.name):
                beta = (rho / rho_old) * (alpha / omega) if omega != 0 else 0.0
                p = sp.convert(sp.xpay(r_s, beta, sp.caxpy(-omega, v, p)), low.precision)
        return ms.finish(y, reason, partial=x)
