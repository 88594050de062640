"""Conjugate gradient with reliable updates (QUDA's inv_cg_quda.cpp): one loop for every precision.

On a Hermitian positive-definite A it iterates on A x = b; on any other operator on the normal
equations A^dag A x = A^dag b (CGNR, as QUDA's normop solve), judging convergence, as every solver
here, on the true residual |b - A x| / |b| of the original system.

Vectors: the solution y and the true residual live in the outer precision (``precision``); the
iterated residual r, the search direction p and A p are stored in the ``sloppy`` precision, and A p
is applied by the sloppy operator (``op.at(sloppy, reconstruct_sloppy)``). The partial solution x
(since the last update) is accumulated in double, QUDA's precise partial accumulator. Reductions
are float64. Uniform precision is the case sloppy = precision: the sloppy operator is the outer one
and a reliable update is a cheap recomputation of the true residual. One iteration:

    alpha = |r|^2 / Re<p, A p>,  x += alpha p,  r -= alpha A p,
    beta = Re<r, r - r_old> / |r_old|^2  (Polak-Ribiere; |r|^2 / |r_old|^2 where that is negative),
    p = r + beta p.

Reliable update (trigger: ``reliable_delta`` or van der Vorst-Ye, :mod:`hpcmix.solvers.reliable`;
forced when the iterated residual meets the target): y += x, x = 0, r = b - A y recomputed with the
outer operator (A^dag (b - A y) for CGNR), replacing the iterated residual; the search direction is
re-projected against the new residual, p -= (Re<r, p> / |r|^2) r, and continued with
beta = |r|^2 / |r_old|^2. The solve ends when the true residual |b - A y| / |b| <= ``tol``; where
an update finds it above while the iterated normal residual met its target, the target is tightened.
A true residual above the previous one at an updateX counts as an increase; past
``max_res_increase`` consecutive or ``max_res_increase_total`` increases the sloppy precision has
stopped making progress: with ``fallback`` the solve continues from the true residual in the next
precision of the chain (recorded in ``fallbacks``), otherwise it stops (QUDA's behaviour), as it does
on a breakdown <p, A p> <= 0 at the end of the chain. A solve that stops between updates folds the
partial solution x into y. Given ``low_modes`` (a :class:`~hpcmix.solvers.deflate.LowModes` of the
operator CG iterates on, handed over by :class:`~hpcmix.solvers.deflate.Deflated`), every reliable update
that leaves the target unmet re-deflates: y += V Lambda^-1 V^dag r and r recomputed (QUDA's deflated CG).
"""

import math

import numpy as np

from .base import Solver
from .fallback import ResidualIncreases
from .mixed_solve import MixedSolve, timed
from .precisions import MIXED_PARAMS, MixedPrecision
from .reliable import ReliableUpdates


class CG(MixedPrecision, Solver):
    name = "cg"
    description = "conjugate gradient (normal equations for non-Hermitian operators) with reliable updates"
    params = dict(Solver.params, **MIXED_PARAMS)
    alternative_reliable_supported = True
    redeflates = True
    low_modes = None

    def solve(self, op, b, x0=None):
        ms = MixedSolve(self, op, b)
        if ms.bnorm == 0:
            return ms.zero_rhs()
        P, result, sp, high, low, bnorm, counts = ms.P, ms.result, ms.space, ms.high, ms.low, ms.bnorm, ms.counts
        normal = not op.hermitian
        high_dag = high.adjoint()
        per_apply = 2 if normal else 1

        def true_residual(y):
            """(r, |b - A y| / |b|): the residual CG iterates on, recomputed in the outer precision."""
            s = ms.residual(y)
            counts["high"] += per_apply - 1
            return (high_dag(s) if normal else s), math.sqrt(sp.norm2(s)) / bnorm

        with timed(result, P.outer.name):
            rhs = high_dag(b) if normal else b              # the right-hand side CG iterates on
            counts["high"] += 1 if normal else 0
            rhs_norm = math.sqrt(sp.norm2(rhs))
            y = ms.initial(x0)
            r, true_res = (sp.copy(rhs), 1.0) if x0 is None else true_residual(y)
            anorm = 0.0
            if self.alternative_reliable:                   # |A| estimated as |A rhs| / |rhs| (as QUDA)
                anorm = math.sqrt(sp.norm2((high.normal() if normal else high)(rhs))) / rhs_norm
                counts["high"] += per_apply

        def new_trigger(rnorm):
            return ReliableUpdates(rnorm, self.reliable_delta, self.alternative_reliable,
                                   u=low.precision.unit_roundoff, uhigh=P.outer.unit_roundoff, anorm=anorm)

        target = self.tol
        r2 = sp.norm2(r)
        trigger = new_trigger(math.sqrt(r2))
        increases = ResidualIncreases(self.max_res_increase, self.max_res_increase_total)
        r_s = sp.convert(r, low.precision)
        p = sp.copy(r_s)
        x = sp.zeros_like(b, np.complex128)
        reason = f"reached maxiter = {self.maxiter}"
        converged = true_res <= self.tol
        while not converged and result.iterations < self.maxiter:
            with timed(result, low.precision.name):
                a_low = low.operator.normal() if normal else low.operator
                ap = a_low(p)
                counts["low"] += per_apply
                pap = sp.inner(p, ap).real
                p2 = sp.norm2(p) if self.alternative_reliable else 0.0
                if not pap > 0:
                    update, breakdown = True, True
                else:
                    breakdown = False
                    alpha = r2 / pap
                    r_old = r_s
                    r_s = sp.convert(sp.axpy(-alpha, ap, sp.copy(r_s)), low.precision)
                    r2_old, r2 = r2, sp.norm2(r_s)
                    sigma = r2 - sp.inner(r_s, r_old).real
                    sp.axpy(alpha, p, x)
                    result.step(math.sqrt(r2) / rhs_norm)
                    update = trigger.evaluate(math.sqrt(r2), r2_old)
                    if r2 <= (target * rhs_norm) ** 2:
                        trigger.force()
                        update = True
                    if not update:
                        p = sp.convert(sp.xpay(r_s, (sigma if sigma >= 0 else r2) / r2_old, p), low.precision)
                        trigger.accumulate(alpha, p2)
            if not update:
                continue
            with timed(result, P.outer.name):
                y = ms.fold(y, x)
                sp.zero(x)
                r, true_res = true_residual(y)
                if self.low_modes is not None and true_res > self.tol:
                    y = self.low_modes.correct(sp, r, y)
                    r, true_res = true_residual(y)
                r2_iterated, r2 = r2, sp.norm2(r)
                result.reliable_update()
            converged = true_res <= self.tol
            if converged:
                break
            if normal and r2_iterated <= (target * rhs_norm) ** 2:
                target = min(target, math.sqrt(r2) / rhs_norm * self.tol / true_res * 0.5)
            stalled = breakdown or increases.record(trigger.increased(math.sqrt(r2)))
            if stalled:
                why = (f"breakdown: <p, A p> <= 0 in precision '{low.precision.name}'" if breakdown
                       else increases.describe())
                if not low.escalate(result, why, increases):
                    reason = f"stopped: {why}"
                    break
                trigger = new_trigger(math.sqrt(r2))
                r_s = sp.convert(r, low.precision)
                p = sp.copy(r_s)
                continue
            trigger.replaced(math.sqrt(r2), math.sqrt(sp.norm2(y)))
            r_s = sp.convert(r, low.precision)
            sp.axpy(-sp.inner(r_s, p).real / r2, r_s, p)
            p = sp.convert(sp.xpay(r_s, r2 / r2_old, p), low.precision)
        return ms.finish(y, reason, partial=x)
