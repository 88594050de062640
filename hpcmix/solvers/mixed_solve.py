"""What every solve of the Krylov solvers shares (QUDA's solver skeleton): the outer, sloppy and
preconditioner operators resolved once when solving starts, the start from a guess, the corrections
and the report.

A solve of ``op x = b`` works in the outer precision ``P.outer`` (the solution y and the true residual
b - A y, with the outer operator ``op.at(P.outer, P.reconstruct)``) and iterates with the sloppy
operator ``op.at(P.sloppy, P.reconstruct_sloppy)`` (:class:`~hpcmix.solvers.fallback.SloppyOperator`);
uniform precision is the case where both are the same operator. Norms and inner products are float64
global reductions of the operator's space; every vector update goes through the space's named BLAS-1
operations (``axpy``, ``xpay``, ``convert``, ...), which a backend may replace by fused kernels. Wall
time is recorded per precision (``timings``), flops from the counts of outer and sloppy applications.
"""

import math
import time
from contextlib import contextmanager

import numpy as np
from mpi4py import MPI

from .. import watch
from ..errors import SolverError
from .base import SolveResult, residual
from .fallback import SloppyOperator


@contextmanager
def timed(result, name):
    """Add the wall time of the block to ``result.timings[name]`` (seconds per precision)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        result.timings[name] = result.timings.get(name, 0.0) + time.perf_counter() - t0


def check_compression(op, high, P, tol, b):
    """The outer operator is the one the solution must satisfy, so its link compression may not change
    it by more than ``tol``: with delta = |A_c v - A v| / |A v| for a random v (A_c: links compressed
    to ``P.reconstruct``, A: the same precision uncompressed), delta > tol is a SolverError. Links that
    are SU(3) only to single precision (read from a single-precision file) give delta ~ 1e-8 in double."""
    sp = op.space
    v = sp.random_like(b, np.random.default_rng([20261129, MPI.COMM_WORLD.rank]))
    exact = op.at(P.outer, 18)(v)
    delta = math.sqrt(sp.norm2(residual(high, exact, v)) / sp.norm2(exact))
    if delta > tol:
        raise SolverError(f"reconstruct = {P.reconstruct} changes the operator by {delta:.2g} (relative), more than "
                          f"tol = {tol:g} allows: the links are not SU(3) to {P.outer.name} precision (e.g. read "
                          f"from a single-precision file); reunitarize them on load (load_gauge reunitarize = "
                          f"true) or use reconstruct = 18 (reconstruct_sloppy may stay compressed)",
                          collective=True)


class MixedSolve:
    """What every solve of ``op x = b`` by a Krylov solver shares, resolved once when it starts: the
    precisions ``P``, the report ``result``, the outer operator ``high`` (``op`` in ``P.outer`` with
    ``P.reconstruct``), ``bnorm`` = |b| (float64), the :class:`SloppyOperator` ``low`` (None for b = 0,
    where nothing is solved; its operator is ``high`` in uniform precision), the space ``space`` whose
    BLAS-1 the solvers use, and the counts of outer and sloppy operator applications that the flops
    come from."""

    def __init__(self, solver, op, b, name=None):
        self.t0 = time.perf_counter()
        self.solver, self.b, self.space = solver, b, op.space
        self.P = P = solver.precisions()
        self.result = SolveResult(x=None, solver=name or solver.name, precision=P.outer.name, sloppy=P.sloppy.name)
        self.high = op.at(P.outer, P.reconstruct)
        self.bnorm = math.sqrt(self.space.norm2(b))
        if self.bnorm and P.reconstruct != 18:
            check_compression(op, self.high, P, solver.tol, b)
        self.low = SloppyOperator(op, P, solver.fallback) if self.bnorm else None
        self.counts = {"high": 0, "low": 0}
        watch.begin(self.result, solver.tol)

    def initial(self, x0):
        """The starting solution y in the outer precision (as complex128; 0 without ``x0``)."""
        if x0 is None:
            return self.space.zeros_like(self.b, np.complex128)
        return self.space.convert(x0, self.P.outer, np.complex128)

    def residual(self, y):
        """s = b - A y with the outer operator (counted)."""
        self.counts["high"] += 1
        return residual(self.high, self.b, y)

    def fold(self, y, x):
        """The solution y + x stored in the outer precision (as complex128; ``y`` is overwritten), offered
        to the watchers of the solve (:func:`hpcmix.watch.snapshot`)."""
        y = self.space.convert(self.space.axpy(1.0, x, y), self.P.outer, np.complex128)
        watch.snapshot(self.result, y)
        return y

    def start(self, x0):
        """(y, s): the starting solution and its residual s = b - A y in the outer precision."""
        with timed(self.result, self.P.outer.name):
            y = self.initial(x0)
            s = self.space.copy(self.b, np.complex128) if x0 is None else self.residual(y)
            return y, s

    def correct(self, y, x):
        """(y, s, |s| / |b|) for the corrected solution y + x stored in the outer precision and its
        residual s = b - A y there: a restart of GCR or defect correction."""
        with timed(self.result, self.P.outer.name):
            y = self.fold(y, x)
            s = self.residual(y)
            return y, s, math.sqrt(self.space.norm2(s)) / self.bnorm

    def finish(self, y, reason, partial=None):
        """The report of solution ``y`` (plus the ``partial`` solution accumulated since the last
        reliable update, where a solve stops between updates): true residual in the outer precision,
        flops, times."""
        if partial is not None and self.space.norm2(partial) > 0:
            y = self.fold(y, partial)
        if self.low is not None:
            self.result.flops += self.counts["low"] * self.low.operator.flops
        watch.end(self.result)
        return self.solver.finish(self.high, self.b, y, self.bnorm or 1.0, self.result, self.t0,
                                  self.counts["high"], reason)

    def zero_rhs(self):
        return self.finish(self.space.zeros_like(self.b), "zero right-hand side")
