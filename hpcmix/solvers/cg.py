"""Conjugate gradient.

On a Hermitian positive-definite A it solves A x = b directly. On any other operator it runs on
the normal equations A^dag A x = A^dag b (CGNR, as QUDA's normop solve) while convergence is still
judged on the true residual of the original system, |b - A x| / |b|: when the iterated normal
residual is small but the true residual is not, the target is tightened and CG restarts from the
true residual.

With mixed precisions (``sloppy`` differing from ``precision``, or an outer precision or reconstruct
the operator does not already work in) it runs QUDA's reliable-update CG,
:mod:`hpcmix.solvers.reliable_cg`.
"""

import time

import numpy as np

from . import reliable_cg
from .base import Solver
from .mixed import MIXED_PARAMS, MixedPrecision


class CG(MixedPrecision, Solver):
    name = "cg"
    description = "conjugate gradient (normal equations for non-Hermitian operators); reliable updates when mixed"
    params = dict(Solver.params, **MIXED_PARAMS)
    alternative_reliable_supported = True

    def solve(self, op, b, x0=None):
        if self.is_mixed(op):
            return reliable_cg.solve(self, op, b, x0)
        t0 = time.perf_counter()
        result = self.new_report(op)
        bnorm = np.sqrt(op.space.norm2(b))
        if bnorm == 0:
            return self.finish(op, b, np.zeros_like(b), 1.0, result, t0, 0, "zero right-hand side")
        normal = not op.hermitian
        a = op.normal() if normal else op
        x = np.zeros_like(b) if x0 is None else x0.copy()
        target = self.tol  # on |rhs - a x| / |rhs| of the system CG iterates on
        rhs_norm = np.sqrt(op.space.norm2(op.adjoint()(b))) if normal else bnorm
        applications, reason = 1 if normal else 0, f"reached maxiter = {self.maxiter}"
        breakdown = False
        while result.iterations < self.maxiter and not breakdown:
            r_true = b - op(x)
            applications += 1
            true_res = np.sqrt(op.space.norm2(r_true)) / bnorm
            if true_res <= self.tol:
                break
            r = op.adjoint()(r_true) if normal else r_true
            applications += 1 if normal else 0
            if result.restarts:
                target = min(target, self.tol * target / max(true_res, 1e-300) * 0.5)
            stop2 = (target * rhs_norm) ** 2
            p = r.copy()
            rr = op.space.norm2(r)
            while result.iterations < self.maxiter and rr > stop2:
                ap = a(p)
                applications += 2 if normal else 1
                pap = op.space.inner(p, ap).real
                if pap <= 0:
                    reason = "breakdown: <p, A p> <= 0 (operator not positive definite?)"
                    breakdown = True
                    break
                alpha = rr / pap
                x += alpha * p
                r -= alpha * ap
                rr_new = op.space.norm2(r)
                result.iterations += 1
                result.history.append(float(np.sqrt(rr_new) / rhs_norm))
                p = r + (rr_new / rr) * p
                rr = rr_new
            result.restarts += 1
        result.restarts = max(result.restarts - 1, 0)
        return self.finish(op, b, x, bnorm, result, t0, applications, reason)
