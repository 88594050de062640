"""Minimal residual (MR) iteration with over-relaxation omega:
    alpha = <A r, r> / <A r, A r>,  x += omega alpha r,  r -= omega alpha A r.
Cheap and smooth: the usual preconditioner / smoother inside GCR and multigrid."""

import time

import numpy as np

from ..params import Param
from .base import Solver


class MR(Solver):
    name = "mr"
    description = "minimal residual (a smoother and preconditioner)"
    params = dict(Solver.params, omega=Param(float, 1.0, "over-relaxation parameter",
                                             check=lambda w: None if 0 < w < 2 else f"must lie in (0, 2), got {w}"))

    def __init__(self, omega=1.0, **kw):
        super().__init__(omega=omega, **kw)

    def solve(self, op, b, x0=None):
        t0 = time.perf_counter()
        result = self.new_report(op)
        sp = op.space
        x, r, bnorm = self.start(op, b, x0)
        applications = 0 if x0 is None else 1
        if bnorm == 0:
            return self.finish(op, b, x, 1.0, result, t0, applications, "zero right-hand side")
        reason = f"reached maxiter = {self.maxiter}"
        converged = x0 is not None and np.sqrt(sp.norm2(r)) / bnorm <= self.tol   # the guess solves it
        while not converged and result.iterations < self.maxiter:
            ar = op(r)
            applications += 1
            arar = sp.norm2(ar)
            if arar == 0:
                reason = "breakdown: A r = 0"
                break
            alpha = self.omega * sp.inner(ar, r) / arar
            sp.caxpy(alpha, r, x)
            res = np.sqrt(sp.axpy_norm2(-alpha, ar, r)) / bnorm
            result.step(float(res))
            if res <= self.tol:
                r, res = self.true_residual(op, b, x, bnorm)
                applications += 1
                if res <= self.tol:
                    break
        return self.finish(op, b, x, bnorm, result, t0, applications, reason)
