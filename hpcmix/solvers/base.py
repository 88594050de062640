"""Solvers as composable operators (GPT style) and the solve result record.

A :class:`Solver` holds parameters; applied to a linear operator it gives an
:class:`InverseOperator`, itself callable on a right-hand side, so a solver can precondition
another (``GCR(preconditioner=MR(maxiter=4))``). Every solve returns a :class:`SolveResult`.
Convergence is judged only on the true residual |b - A x| / |b| recomputed in float64 at the end
(and wherever an iterated residual claims convergence); a solver never reports success without it.
"""

import math
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import watch
from ..params import Param


@dataclass
class SolveResult:
    x: Any
    solver: str
    iterations: int = 0
    true_residual: float = float("nan")
    history: list = field(default_factory=list)   # iterated |r| / |b| per iteration
    converged: bool = False
    reason: str = ""
    precision: str = "double"
    sloppy: str = "double"
    reliable_updates: int = 0
    reliable_update_iterations: list = field(default_factory=list)   # ``iterations`` at each reliable update
    restarts: int = 0
    preconditioner_iterations: int = 0   # iterations of a preconditioner's inner solves, all together
    fallbacks: list = field(default_factory=list)
    flops: float = 0.0
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)   # seconds per part (e.g. per precision)

    def step(self, residual):
        """Count an iteration that left the iterated relative residual ``residual`` (and tell whoever
        watches the solve: :mod:`hpcmix.watch`)."""
        self.iterations += 1
        self.history.append(residual)
        watch.tick(self)

    def reliable_update(self):
        """Count a reliable update (the iterated residual replaced by the true one) and record at which
        iteration it happened."""
        self.reliable_updates += 1
        self.reliable_update_iterations.append(self.iterations)

    def absorb(self, other, repeated=True):
        """Fold a further solve into this record (a repeated solve counts as a restart; the solve
        of another part of the system, e.g. the other parity, does not). The iterations at which
        ``other``'s reliable updates and fallbacks happened are shifted to count on from this record's,
        as its history is appended to this one's."""
        start = self.iterations
        self.iterations += other.iterations
        self.history.extend(other.history)
        self.restarts += other.restarts + (1 if repeated else 0)
        self.reliable_updates += other.reliable_updates
        self.reliable_update_iterations.extend(start + i for i in other.reliable_update_iterations)
        self.preconditioner_iterations += other.preconditioner_iterations
        self.fallbacks.extend(dict(f, iteration=start + f["iteration"]) for f in other.fallbacks)
        self.flops += other.flops
        for k, v in other.timings.items():
            self.timings[k] = self.timings.get(k, 0.0) + v
        self.reason = other.reason
        return self

    @classmethod
    def from_report(cls, attrs, history, x=None):
        """The record that :meth:`report` gave ``attrs`` (and ``history``) for, with solution ``x``."""
        fields = {k: v for k, v in attrs.items() if k in cls.__dataclass_fields__}
        fields.update(fallbacks=json.loads(attrs["fallbacks"]), timings=json.loads(attrs["timings"]),
                      reliable_update_iterations=[int(i) for i in attrs["reliable_update_iterations"]],
                      history=[float(h) for h in history], x=x)
        for k, v in fields.items():                                      # numpy scalars as Python's
            if isinstance(v, np.generic):
                fields[k] = v.item()
        return cls(**fields)

    def report(self):
        """The record as plain values (for HDF5 attributes and logs), without the solution;
        ``fallbacks`` (a list of tables) and ``timings`` as JSON text, whatever they hold;
        ``reliable_update_iterations`` as an int64 array (empty or not)."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("x", "history")}
        out["reliable_update_iterations"] = np.asarray(self.reliable_update_iterations, dtype=np.int64)
        out["gflops"] = self.flops / self.seconds / 1e9 if self.seconds > 0 else 0.0
        out["fallbacks"] = json.dumps(self.fallbacks)
        out["timings"] = json.dumps(self.timings)
        return out


class InverseOperator:
    """``solver(op)``: applying it to b solves A x = b; ``solve`` also returns the record."""

    def __init__(self, solver, op):
        self.solver, self.op = solver, op
        self.space = op.space
        self.last = None

    def solve(self, b, x0=None):
        self.last = self.solver.solve(self.op, b, x0)
        return self.last

    def __call__(self, b):
        return self.solve(b).x


def nested(solver):
    """``solver`` and every solver inside it (preconditioners, inner solvers), outermost first."""
    yield solver
    for attr in ("preconditioner", "inner"):
        child = getattr(solver, attr, None)
        if child is not None and hasattr(child, "solve"):
            yield from nested(child)


def residual(op, b, x):
    """A new field b - A x (in the wider of b's and A x's type), by the operator space's BLAS-1."""
    ax = op(x)
    return op.space.axpy(-1.0, ax, op.space.copy(b, np.result_type(b, ax)))


def check_tol(tol):
    """A target relative residual must be a finite number above 0 (a solve cannot reach 0)."""
    return None if math.isfinite(tol) and tol > 0 else f"must be a finite number > 0, got {tol!r}"


def check_maxiter(maxiter):
    return None if maxiter >= 1 else f"must be >= 1, got {maxiter}"


class Solver:
    """Base of registered solvers: ``name``, declared ``params``, ``solve(op, b, x0)``."""

    name = ""
    description = ""
    params = {
        "tol": Param(float, 1e-10, "target true relative residual |b - A x| / |b|", check=check_tol),
        "maxiter": Param(int, 10000, "maximum iterations (operator applications for MR)", check=check_maxiter),
        "precision": Param(str, "double", "outer precision (the true residual and the solution)"),
    }

    def __init__(self, tol=1e-10, maxiter=10000, precision="double", **extra):
        self.tol, self.maxiter, self.precision = tol, maxiter, precision
        for k, v in extra.items():
            setattr(self, k, v)

    @classmethod
    def validate_config(cls, cfg, registry):
        """A solver without mixed precision works in its operator's precision, so ``precision`` may
        only keep its default; the mixed-precision solvers (cg, bicgstab, gcr, defect_correction)
        override this."""
        if cfg["precision"] != "double":
            return ("precision", f"solver '{cls.name}' works in its operator's precision; 'precision' is a key of "
                    "the mixed-precision solvers (nest it as a gcr preconditioner with precision_preconditioner "
                    "to run it in another precision)")
        return None

    def new_report(self, op):
        """An empty :class:`SolveResult` for a solve in ``op``'s precision (as the operator says)."""
        precision = getattr(getattr(op, "precision", None), "name", self.precision)
        return SolveResult(x=None, solver=self.name, precision=precision, sloppy=precision)

    def __call__(self, op):
        return InverseOperator(self, op)

    def solve(self, op, b, x0=None):
        raise NotImplementedError

    # ---- helpers shared by the Krylov solvers ----------------------------------------------------
    @staticmethod
    def start(op, b, x0):
        """(x, r, |b|) with r = b - A x computed in float64."""
        sp = op.space
        x = sp.zeros_like(b) if x0 is None else sp.copy(x0)
        r = residual(op, b, x) if x0 is not None else sp.copy(b)
        return x, r, np.sqrt(sp.norm2(b))

    @staticmethod
    def true_residual(op, b, x, bnorm):
        r = residual(op, b, x)
        return r, (np.sqrt(op.space.norm2(r)) / bnorm if bnorm > 0 else 0.0)

    def finish(self, op, b, x, bnorm, result, t0, applications, reason):
        """Fill in the true residual, convergence, flops and time of ``result``."""
        _, res = self.true_residual(op, b, x, bnorm)
        result.x = x
        result.true_residual = float(res)
        result.converged = bool(res <= self.tol)
        result.reason = "converged (true residual)" if result.converged else reason
        result.flops += (applications + 1) * op.flops
        result.seconds = time.perf_counter() - t0
        result.timings.setdefault(result.precision, result.seconds)
        return result
