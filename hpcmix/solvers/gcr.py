"""Restarted flexible GCR with an optional preconditioner (any operator, e.g. another solver).

Each step: z = K r (K the preconditioner, identity by default), q = A z, q is orthogonalized
against the earlier q_i (modified Gram-Schmidt, same combination applied to z), then
x += <q, r>/<q, q> z, r -= <q, r>/<q, q> q. After ``nkrylov`` steps (or a claimed convergence) the
true residual is recomputed and the cycle restarts from it. ``iterations`` counts the GCR steps;
the preconditioner's inner iterations are ``preconditioner_iterations``, its wall time
``timings["preconditioner (<its precision>)"]``.

With mixed precisions, or a ``precision_preconditioner`` other than ``precision``, the cycles run in
the sloppy precision and the preconditioner in ``precision_preconditioner``
(:mod:`hpcmix.solvers.mixed_gcr`).
"""

import time

import numpy as np

from ..errors import DeckError
from ..params import Param, Validator
from . import mixed_gcr
from .base import Solver
from .mixed import MIXED_PARAMS, MixedPrecision


def validate_preconditioner(value, registry):
    """GCR's ``preconditioner`` key: 'none', or a solver (a table with kind, or a registered solver's
    name as shorthand for ``{kind = NAME}``) validated as a nested component. Returns (the validated
    value, None) or (None, (key relative to the GCR table, message))."""
    if value == "none":
        return value, None
    names = registry.names("solvers")
    if isinstance(value, str) and value not in names:
        return None, ("preconditioner", f"expected 'none' or a solver (a table with kind, or one of the "
                                        f"registered solvers: {', '.join(names)}), got {value!r}")
    try:
        return Validator(registry).component("solvers", value, stage=None, key="preconditioner"), None
    except DeckError as exc:
        return None, (exc.key, exc.reason)


class GCR(MixedPrecision, Solver):
    name = "gcr"
    description = "restarted flexible generalized conjugate residual; sloppy cycles when mixed"
    params = dict(Solver.params, **MIXED_PARAMS,
                  nkrylov=Param(int, 16, "Krylov vectors kept before a restart"),
                  preconditioner=Param((dict, str), "none", "solver used as preconditioner (a table with kind, "
                                       "or a solver's name), or 'none'"))

    def __init__(self, preconditioner=None, nkrylov=16, **kw):
        if preconditioner is not None and not callable(preconditioner):
            raise TypeError(f"preconditioner must be a solver or None, got {preconditioner!r}")
        super().__init__(nkrylov=nkrylov, **kw)
        self.preconditioner = preconditioner

    @classmethod
    def validate_config(cls, cfg, registry):
        """The precision keys, then the nested ``preconditioner`` (replaced by its validated table
        with defaults filled in); an error in it names the nested key, e.g. preconditioner.omega."""
        problem = super().validate_config(cfg, registry)
        if problem:
            return problem
        cfg["preconditioner"], problem = validate_preconditioner(cfg["preconditioner"], registry)
        return problem

    def is_mixed(self, op):
        """Mixed where the precisions differ from the operator's, and also where only the
        preconditioner's precision differs from the outer one: the preconditioner then runs on the
        operator in ``precision_preconditioner``."""
        p = self.precisions()
        return super().is_mixed(op) or (self.preconditioner is not None and p.preconditioner is not p.outer)

    def solve(self, op, b, x0=None):
        if self.is_mixed(op):
            return mixed_gcr.solve(self, op, b, x0)
        t0 = time.perf_counter()
        result = self.new_report(op)
        sp = op.space
        x, r, bnorm = self.start(op, b, x0)
        applications = 0 if x0 is None else 1
        if bnorm == 0:
            return self.finish(op, b, x, 1.0, result, t0, applications, "zero right-hand side")
        precondition = None
        if self.preconditioner is not None:
            precondition = mixed_gcr.Preconditioner(self.preconditioner, op, result)
        reason = f"reached maxiter = {self.maxiter}"
        while result.iterations < self.maxiter:
            zs, qs, qq = [], [], []
            for _ in range(self.nkrylov):
                z = precondition(r) if precondition is not None else r.copy()
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
        result = self.finish(op, b, x, bnorm, result, t0, applications, reason)
        if precondition is not None:   # the outer precision's time is the rest
            result.timings[self.precision] -= result.timings.get(precondition.key, 0.0)
        return result
