"""BiCGstab (van der Vorst) for non-Hermitian A x = b, restarted from the true residual whenever the
iterated residual claims convergence that the true residual does not confirm.

A breakdown of the recurrence (rho = <r0, r> = 0, or <r0, v> = 0 for v = A p) restarts it from the
true residual with a new shadow residual r0 = r (a point source as b gives <r0, r> = 0 exactly after
one step of the Wilson operator). It is a genuine breakdown, and the solve stops, only when the
restarted recurrence breaks down before completing an iteration: a further restart would start
from the same state.

With mixed precisions it runs QUDA's reliable-update BiCGstab, :mod:`hpcmix.solvers.reliable_bicgstab`."""

import time

import numpy as np

from . import reliable_bicgstab
from .base import Solver
from .mixed import MIXED_PARAMS, MixedPrecision


class BiCGstab(MixedPrecision, Solver):
    name = "bicgstab"
    description = "stabilized bi-conjugate gradient; reliable updates when mixed"
    params = dict(Solver.params, **MIXED_PARAMS)

    def solve(self, op, b, x0=None):
        if self.is_mixed(op):
            return reliable_bicgstab.solve(self, op, b, x0)
        t0 = time.perf_counter()
        result = self.new_report(op)
        x, r, bnorm = self.start(op, b, x0)
        applications = 0 if x0 is None else 1
        reason = f"reached maxiter = {self.maxiter}"
        if bnorm == 0:
            return self.finish(op, b, x, 1.0, result, t0, applications, "zero right-hand side")
        while result.iterations < self.maxiter:
            started = result.iterations
            breakdown, applied = self.recurrence(op, x, r, bnorm, result)
            r, true_res = self.true_residual(op, b, x, bnorm)
            applications += applied + 1
            if true_res <= self.tol:
                break
            if breakdown and result.iterations == started:
                reason = breakdown
                break
            result.restarts += 1
        return self.finish(op, b, x, bnorm, result, t0, applications, reason)

    def recurrence(self, op, x, r, bnorm, result):
        """Iterate from residual r with shadow residual r0 = r, adding to x in place, until the iterated
        |r| / |b| meets ``tol``, omega = 0, ``maxiter`` or a breakdown. Returns (the breakdown's
        description or None, operator applications). One iteration:

            v = A p,  alpha = rho / <r0, v>,  s = r - alpha v,  t = A s,  omega = <t, s> / |t|^2,
            x += alpha p + omega s,  r = s - omega t,  rho' = <r0, r>,
            p = r + (rho' / rho)(alpha / omega)(p - omega v)   (p = r at the start).
        """
        sp = op.space
        r0, p = r.copy(), r.copy()
        rho = sp.inner(r0, r)
        applications = 0
        while result.iterations < self.maxiter:
            v = op(p)
            applications += 1
            r0v = sp.inner(r0, v)
            if r0v == 0:
                return "breakdown: <r0, v> = 0", applications
            alpha = rho / r0v
            s = r - alpha * v
            t = op(s)
            applications += 1
            tt = sp.norm2(t)
            omega = sp.inner(t, s) / tt if tt > 0 else 0.0
            x += alpha * p + omega * s
            r = s - omega * t
            result.iterations += 1
            result.history.append(float(np.sqrt(sp.norm2(r)) / bnorm))
            if result.history[-1] <= self.tol or omega == 0:
                break
            rho, rho_old = sp.inner(r0, r), rho
            if rho == 0:
                return "breakdown: rho = 0", applications
            p = r + (rho / rho_old) * (alpha / omega) * (p - omega * v)
        return None, applications
