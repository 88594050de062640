"""Restarted flexible GCR with an optional preconditioner (any operator, e.g. another solver).

Each step: z = K r (K the preconditioner, identity by default), q = A z, q is orthogonalized
against the earlier q_i (modified Gram-Schmidt, same combination applied to z), then
x += <q, r>/<q, q> z, r -= <q, r>/<q, q> q. After ``nkrylov`` steps (or a claimed convergence) the
true residual is recomputed and the cycle restarts from it.

With mixed precisions the cycles run in the sloppy precision and the preconditioner in
``precision_preconditioner`` (:mod:`hpcmix.solvers.mixed_gcr`).
"""

import time

import numpy as np

from ..params import Component, Param
from . import mixed_gcr
from .base import SolveResult, Solver
from .mixed import MIXED_PARAMS, MixedPrecision


class GCR(MixedPrecision, Solver):
    name = "gcr"
    description = "restarted flexible generalized conjugate residual; sloppy cycles when mixed"
    params = dict(Solver.params, **MIXED_PARAMS,
                  nkrylov=Param(int, 16, "Krylov vectors kept before a restart"),
                  preconditioner=Param((Component("solvers"), str), "none",
                                       "solver used as preconditioner (a table with kind), or 'none'"))

    def __init__(self, preconditioner=None, nkrylov=16, **kw):
        super().__init__(nkrylov=nkrylov, **kw)
        self.preconditioner = preconditioner

    def solve(self, op, b, x0=None):
        if self.is_mixed(op):
            return mixed_gcr.solve(self, op, b, x0)
        t0 = time.perf_counter()
        result = SolveResult(x=None, solver=self.name, precision=self.precision, sloppy=self.precision)
        sp = op.space
        x, r, bnorm = self.start(op, b, x0)
        applications = 0 if x0 is None else 1
        if bnorm == 0:
            return self.finish(op, b, x, 1.0, result, t0, applications, "zero right-hand side")
        precondition = self.preconditioner(op) if self.preconditioner is not None else None
        inner_flops = 0.0
        reason = f"reached maxiter = {self.maxiter}"
        while result.iterations < self.maxiter:
            zs, qs, qq = [], [], []
            for _ in range(self.nkrylov):
                if precondition is not None:
                    z = precondition(r)
                    inner_flops += precondition.last.flops
                else:
                    z = r.copy()
                q = op(z)
                applications += 1
                for zi, qi, qqi in zip(zs, qs, qq):
                    beta = sp.inner(qi, q) / qqi
                    q -= beta * qi
                    z -= beta * zi
                qnorm2 = sp.norm2(q)
                if qnorm2 == 0:
                    reason = "breakdown: A z = 0"
                    break
                alpha = sp.inner(q, r) / qnorm2
                x += alpha * z
                r -= alpha * q
                zs.append(z)
                qs.append(q)
                qq.append(qnorm2)
                result.iterations += 1
                res = np.sqrt(sp.norm2(r)) / bnorm
                result.history.append(float(res))
                if res <= self.tol or result.iterations >= self.maxiter:
                    break
            r, true_res = self.true_residual(op, b, x, bnorm)
            applications += 1
            if true_res <= self.tol or reason.startswith("breakdown"):
                break
            result.restarts += 1
        result.flops += inner_flops
        return self.finish(op, b, x, bnorm, result, t0, applications, reason)
