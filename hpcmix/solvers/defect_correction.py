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

from ..params import Component, Param
from .base import Solver
from .cg import CG
from .fallback import ResidualIncreases
from .mixed_solve import MixedSolve, timed
from .precisions import MIXED_PARAMS, MixedPrecision, confined


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
        ms = MixedSolve(self, op, b, name=f"{self.name}({self.inner.name})")
        if ms.bnorm == 0:
            return ms.zero_rhs()
        result, low = ms.result, ms.low
        increases = ResidualIncreases(self.max_res_increase, self.max_res_increase_total)
        y, s = ms.start(x0)
        res = math.sqrt(op.space.norm2(s)) / ms.bnorm
        reason = f"reached maxiter = {self.maxiter}"
        while res > self.tol and result.iterations < self.maxiter:
            with timed(result, low.precision.name):
                inner = confined(self.inner, low.precision, low.operator.reconstruct)
                inner.tol = max(self.inner_tol, 16 * low.precision.unit_roundoff)
                inner.maxiter = self.maxiter - result.iterations
                correction = inner.solve(low.operator, op.space.convert(s, low.precision))
            result.iterations += correction.iterations
            result.history.extend(correction.history)
            result.flops += correction.flops
            y, s, new = ms.correct(y, correction.x)
            if new <= self.tol:
                res = new
                break
            result.restarts += 1
            if increases.record(new >= res) and not low.escalate(result, increases.describe(), increases):
                reason = f"stopped: {increases.describe()}"
                break
            res = new
        return ms.finish(y, reason)
