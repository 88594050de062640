"""Restarted defect correction (classic iterative refinement), the baseline for reliable updates.

    y = x0 (or 0),  s = b - A y                                   (outer precision)
    repeat:  solve A_sloppy e = s to relative residual inner_tol   (the inner solver, entirely in the
                                                                    sloppy precision, from e = 0;
                                                                    inner_tol no lower than 16 u_sloppy)
             y += e,  s = b - A y                                  (outer precision; a restart)
    until |s| / |b| <= tol

Unlike reliable updates, every correction starts a new Krylov space. Each correction after the
first counts as a restart; ``iterations`` sums the inner solver's. The floor on the inner tolerance
keeps an inner solve from chasing residuals its own operator cannot resolve (16 u is 0.06 in
quarter precision). A true residual that does not decrease counts as an increase
(``max_res_increase``, ``max_res_increase_total``); past the limits the solve falls back to the next
higher precision (``fallback``) or stops. Of the mixed-precision keys, ``reliable_delta`` and
``alternative_reliable`` do not apply (``inner_tol`` takes the place of the first).
"""

import math
import time

import numpy as np

from ..operators.precision_view import store
from ..params import Component, Param
from .base import SolveResult, Solver
from .cg import CG
from .mixed import MIXED_PARAMS, MixedPrecision, ResidualIncreases, SloppyOperator, confined, timed


class DefectCorrection(MixedPrecision, Solver):
    name = "defect_correction"
    description = "restarted defect correction: the inner solver in the sloppy precision, corrections in the outer"
    params = dict(Solver.params, **{k: v for k, v in MIXED_PARAMS.items()
                                    if k not in ("reliable_delta", "alternative_reliable")},
                  inner=Param(Component("solvers"), {"kind": "cg"}, "the inner solver (a table with kind); it "
                              "runs in the sloppy precision"),
                  inner_tol=Param(float, 0.1, "relative residual each inner solve reaches",
                                  check=lambda v: None if 0 < v < 1 else "must lie in (0, 1)"))

    def __init__(self, inner=None, inner_tol=0.1, **kw):
        super().__init__(inner_tol=inner_tol, **kw)
        self.inner = inner if inner is not None else CG()

    def solve(self, op, b, x0=None):
        t0 = time.perf_counter()
        P = self.precisions()
        result = SolveResult(x=None, solver=f"{self.name}({self.inner.name})", precision=P.outer.name,
                             sloppy=P.sloppy.name)
        sp = op.space
        high = op.at(P.outer, P.reconstruct)
        bnorm = math.sqrt(sp.norm2(b))
        if bnorm == 0:
            return self.finish(high, b, np.zeros_like(b), 1.0, result, t0, 0, "zero right-hand side")
        low = SloppyOperator(op, P, self.fallback)
        increases = ResidualIncreases(self.max_res_increase, self.max_res_increase_total)
        applications = 0
        with timed(result, P.outer.name):
            if x0 is None:
                y, s = np.zeros(b.shape, np.complex128), b.astype(np.complex128)
            else:
                y = store(P.outer, x0).astype(np.complex128, copy=False)
                s = b - high(y)
                applications += 1
            res = math.sqrt(sp.norm2(s)) / bnorm
        reason = f"reached maxiter = {self.maxiter}"
        while res > self.tol and result.iterations < self.maxiter:
            with timed(result, low.precision.name):
                inner = confined(self.inner, low.precision, low.operator.reconstruct)
                inner.tol = max(self.inner_tol, 16 * low.precision.unit_roundoff)
                inner.maxiter = self.maxiter - result.iterations
                correction = inner.solve(low.operator, store(low.precision, s))
            result.iterations += correction.iterations
            result.history.extend(correction.history)
            result.flops += correction.flops
            with timed(result, P.outer.name):
                y = store(P.outer, y + correction.x).astype(np.complex128, copy=False)
                s = b - high(y)
                applications += 1
                new = math.sqrt(sp.norm2(s)) / bnorm
            if new <= self.tol:
                res = new
                break
            result.restarts += 1
            if increases.record(new >= res):
                if not low.can_fall_back():
                    reason = f"stopped: {increases.describe()}"
                    break
                low.fall_back(result, result.iterations, increases.describe())
                increases.reset()
            res = new
        return self.finish(high, b, y, bnorm, result, t0, applications, reason)
