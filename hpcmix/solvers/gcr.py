"""Restarted flexible GCR with an optional preconditioner (QUDA's inv_gcr_quda.cpp): one loop for
every precision.

The outer loop works in the outer precision (``precision``): the solution y and the true residual
b - A y. Each cycle runs in the ``sloppy`` precision from the true residual, stored sloppy: z = K r
(K the preconditioner, any solver, applied to ``op.at(precision_preconditioner, reconstruct_sloppy)``
and working entirely in that precision; identity without one), q = A_sloppy z, q and z orthogonalized
against the cycle's earlier q_i (modified Gram-Schmidt), then x += <q, r>/<q, q> z (x accumulated
in double) and r -= <q, r>/<q, q> q. A cycle ends after ``nkrylov`` steps, when |r| has fallen by
``reliable_delta`` since the cycle began (as QUDA's GCR; 0 turns it off), or when it claims
convergence; then y += x and the true residual is recomputed in the outer precision (a reliable
update) and the next cycle restarts from it. Uniform precision is the case sloppy = precision: the
sloppy operator is the outer one. A true residual above the previous one counts as an increase; past
``max_res_increase`` / ``max_res_increase_total`` the sloppy precision falls back (``fallback``) or
the solve stops, as it does on stagnation: a true residual that has not halved in ``stagnation_window``
iterations (restarted GCR stalls on an indefinite operator; :class:`~hpcmix.solvers.fallback.Stagnation`).

``iterations`` counts the GCR steps; the preconditioner's inner iterations are reported as
``preconditioner_iterations`` and its wall time as ``timings["preconditioner (<its precision>)"]``,
apart from the cycles' time.
"""

import math

import numpy as np

from ..params import Component, Param
from .base import Solver
from .fallback import STAGNATION_PARAMS, STAGNATION_WINDOW, ResidualIncreases, Stagnation
from .mixed_solve import MixedSolve, timed
from .precisions import MIXED_PARAMS, MixedPrecision, confined


def preconditioner_param(doc):
    """The ``preconditioner`` key of GCR and GMRES-DR: 'none', or a solver (a table with kind, or a registered
    solver's name as shorthand for ``{kind = NAME}``), validated as a nested component by the deck's own
    validator (its keys named as preconditioner.KEY, its paths resolved from the deck's folder)."""
    return Param((Component("solvers"), str), "none", doc)


def check_preconditioner(value, registry):
    """(key, message) for a string ``preconditioner`` that is not 'none' (a solver's name became a table), else
    None."""
    if isinstance(value, str) and value != "none":
        return ("preconditioner", f"expected 'none' or a solver (a table with kind, or one of the registered solvers: "
                f"{', '.join(registry.names('solvers'))}), got {value!r}")
    return None


class Preconditioner:
    """z = K r with K = ``solver`` applied to ``op`` (from zero), accounted in ``result``: K's inner
    iterations added to ``preconditioner_iterations``, its flops to ``flops``, its wall time to
    ``timings[key]`` with ``key`` = "preconditioner (<op's precision>)"."""

    def __init__(self, solver, op, result):
        self.inverse, self.result = solver(op), result
        self.key = f"preconditioner ({op.precision.name})"

    @classmethod
    def of(cls, solver, op, ms):
        """The preconditioner of ``solver`` (its ``preconditioner``, confined to the preconditioner precision
        of the solve ``ms``) on ``op`` there, or None without one."""
        if solver.preconditioner is None:
            return None
        rc = ms.P.reconstruct_for(ms.P.preconditioner)
        inner = confined(solver.preconditioner, ms.P.preconditioner, rc)
        return cls(inner, op.at(ms.P.preconditioner, rc), ms.result)

    def __call__(self, r):
        with timed(self.result, self.key):
            inner = self.inverse.solve(r)
        self.result.preconditioner_iterations += inner.iterations
        self.result.flops += inner.flops
        return inner.x


class GCR(MixedPrecision, Solver):
    name = "gcr"
    description = "restarted flexible generalized conjugate residual, cycles in the sloppy precision"
    params = dict(Solver.params, **MIXED_PARAMS, **STAGNATION_PARAMS,
                  nkrylov=Param(int, 16, "Krylov vectors kept before a restart",
                                check=lambda n: None if n >= 1 else f"must be >= 1, got {n}"),
                  preconditioner=preconditioner_param("solver used as preconditioner (a table with kind, or a "
                                                      "solver's name), or 'none'"))

    def __init__(self, preconditioner=None, nkrylov=16, stagnation_window=STAGNATION_WINDOW, **kw):
        if preconditioner is not None and not callable(preconditioner):
            raise TypeError(f"preconditioner must be a solver or None, got {preconditioner!r}")
        super().__init__(nkrylov=nkrylov, stagnation_window=stagnation_window, **kw)
        self.preconditioner = preconditioner

    @classmethod
    def validate_config(cls, cfg, registry):
        """The precision keys, then the ``preconditioner`` (validated as a nested component already)."""
        return super().validate_config(cfg, registry) or check_preconditioner(cfg["preconditioner"], registry)

    def solve(self, op, b, x0=None):
        ms = MixedSolve(self, op, b)
        if ms.bnorm == 0:
            return ms.zero_rhs()
        result, sp, low, bnorm = ms.result, ms.space, ms.low, ms.bnorm
        precondition = Preconditioner.of(self, op, ms)
        y, s = ms.start(x0)
        res = math.sqrt(sp.norm2(s)) / bnorm
        increases = ResidualIncreases(self.max_res_increase, self.max_res_increase_total)
        stagnation = Stagnation(self.stagnation_window)
        reason = f"reached maxiter = {self.maxiter}"
        while res > self.tol and result.iterations < self.maxiter:
            x, breakdown = self.cycle(ms, s, precondition)
            y, s, new = ms.correct(y, x)
            result.reliable_update()
            if new <= self.tol:
                res = new
                break
            result.restarts += 1
            stalled = stagnation.record(result.iterations, new)
            if breakdown or stalled or increases.record(new > res):
                why = (f"breakdown: A z = 0 in precision '{low.precision.name}'" if breakdown
                       else stagnation.describe() if stalled else increases.describe())
                if not low.escalate(result, why, increases):
                    reason = f"stopped: {why}"
                    break
                stagnation.reset(result.iterations)
            res = new
        return ms.finish(y, reason)

    def cycle(self, ms, s, precondition):
        """One sloppy GCR cycle from the true residual s (stored sloppy as r); returns (the correction x,
        in double; whether it ended by a breakdown A z = 0)."""
        result, sp, low, bnorm = ms.result, ms.space, ms.low, ms.bnorm
        with timed(result, low.precision.name):
            r = sp.convert(s, low.precision)
            r_start = math.sqrt(sp.norm2(r))
            x = sp.zeros_like(r, np.complex128)
        zs, qs, qq = [], [], []
        for _ in range(self.nkrylov):
            z = sp.convert(precondition(r), low.precision) if precondition is not None else sp.copy(r)
            with timed(result, low.precision.name):
                q = low.operator(z)
                ms.counts["low"] += 1
                for zi, qi, qqi in zip(zs, qs, qq):
                    beta = sp.inner(qi, q) / qqi
                    sp.caxpy(-beta, qi, q)
                    sp.caxpy(-beta, zi, z)
                q, z = sp.convert(q, low.precision), sp.convert(z, low.precision)
                q2 = sp.norm2(q)
                if q2 == 0:
                    return x, True
                alpha = sp.inner(q, r) / q2
                sp.caxpy(alpha, z, x)
                r = sp.convert(sp.caxpy(-alpha, q, r), low.precision)
                zs.append(z)
                qs.append(q)
                qq.append(q2)
                rnorm = math.sqrt(sp.norm2(r))
                result.step(rnorm / bnorm)
            if (rnorm <= self.tol * bnorm or rnorm < self.reliable_delta * r_start
                    or result.iterations >= self.maxiter):
                break
        return x, False
