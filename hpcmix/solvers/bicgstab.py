"""BiCGstab (van der Vorst) for non-Hermitian A x = b, restarted from the true residual whenever the
iterated residual claims convergence that the true residual does not confirm.

With mixed precisions it runs QUDA's reliable-update BiCGstab, :mod:`hpcmix.solvers.reliable_bicgstab`."""

import time

import numpy as np

from . import reliable_bicgstab
from .base import SolveResult, Solver
from .mixed import MIXED_PARAMS, MixedPrecision


class BiCGstab(MixedPrecision, Solver):
    name = "bicgstab"
    description = "stabilized bi-conjugate gradient; reliable updates when mixed"
    params = dict(Solver.params, **MIXED_PARAMS)

    def solve(self, op, b, x0=None):
        if self.is_mixed(op):
            return reliable_bicgstab.solve(self, op, b, x0)
        t0 = time.perf_counter()
        result = SolveResult(x=None, solver=self.name, precision=self.precision, sloppy=self.precision)
        sp = op.space
        x, r, bnorm = self.start(op, b, x0)
        applications = 0 if x0 is None else 1
        reason = f"reached maxiter = {self.maxiter}"
        if bnorm == 0:
            return self.finish(op, b, x, 1.0, result, t0, applications, "zero right-hand side")
        while result.iterations < self.maxiter:
            r0 = r.copy()
            rho = sp.inner(r0, r)
            p = r.copy()
            v = np.zeros_like(r)
            alpha = omega = 1.0
            rho_old = rho
            first = True
            while result.iterations < self.maxiter:
                if not first:
                    rho = sp.inner(r0, r)
                    if rho == 0:
                        reason = "breakdown: rho = 0"
                        break
                    beta = (rho / rho_old) * (alpha / omega)
                    p = r + beta * (p - omega * v)
                first = False
                v = op(p)
                r0v = sp.inner(r0, v)
                if r0v == 0:
                    reason = "breakdown: <r0, v> = 0"
                    break
                alpha = rho / r0v
                s = r - alpha * v
                t = op(s)
                applications += 2
                tt = sp.norm2(t)
                omega = sp.inner(t, s) / tt if tt > 0 else 0.0
                x += alpha * p + omega * s
                r = s - omega * t
                rho_old = rho
                result.iterations += 1
                res = np.sqrt(sp.norm2(r)) / bnorm
                result.history.append(float(res))
                if res <= self.tol or omega == 0:
                    break
            r, true_res = self.true_residual(op, b, x, bnorm)
            applications += 1
            if true_res <= self.tol or reason.startswith("breakdown"):
                break
            result.restarts += 1
        return self.finish(op, b, x, bnorm, result, t0, applications, reason)
