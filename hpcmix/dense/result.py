"""The result record of a dense mixed-precision solve and its status codes.

Codes follow cuSOLVER's IRS ``niters < 0`` meanings (and LAPACK DSGESV's ITER for the first two):
  0    the refinement converged in the factorization precision;
  -2   an entry of A overflows the factorization format on conversion (DSGESV's -2);
  -3   the low-precision factorization failed: zero pivot, or overflow to inf/NaN (DSGESV's -3);
  -5   overflow (inf/NaN) during the refinement;
  -50  no convergence: the iteration limit was reached, or the backward error stagnated or grew
       (cuSOLVER's -50; DSGESV reports its iteration limit as -31 = -(ITERMAX + 1)).
A negative code with ``fell_back`` true means the solution came from the float64 LU instead.
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import SolverError
from .norms import EPS

SUCCESS = 0
CONVERSION_OVERFLOW = -2
FACTORIZATION_FAILURE = -3
REFINEMENT_OVERFLOW = -5
NO_CONVERGENCE = -50

CODE_NAMES = {SUCCESS: "success", CONVERSION_OVERFLOW: "conversion overflow",
              FACTORIZATION_FAILURE: "factorization failure", REFINEMENT_OVERFLOW: "overflow during refinement",
              NO_CONVERGENCE: "no convergence"}


class SingularMatrixError(SolverError):
    """The matrix is exactly singular in float64 (LAPACK dgetrf found a zero pivot)."""


@dataclass
class DenseResult:
    """What a dense solve returns.

    ``x``: the solution, shaped like B (None where no solution was computed: the low-precision
    factorization failed and the fallback was off). ``converged``: the tolerance test
    ||b - A x||_inf <= tol ||A||_inf ||x||_inf holds for every column, checked on the float64
    residual of the returned x. ``niters``: refinement iterations (classical: low-precision LU solves
    after the first; GMRES: inner GMRES steps; the largest over the right-hand sides).
    ``outer_niters``: outer refinement steps. ``history``: the HPL-MxP scaled residual (largest over
    the columns) of the initial solution and after each outer step, then, after a fallback, of the
float64 LU's solution and its refinement steps (so ``history[-1]`` is always the returned x's
where one was computed). ``backward_error``: that quantity
    for the returned x (<= 16 passes HPL-MxP; inf where there is no x). ``times``: seconds per phase spent in this call.
    ``fallback_step``: after a fallback, the index in ``history`` of the float64 LU's first entry (-1 without one).
    ``rcond``: an estimate of 1 / cond_inf(A) (nan where there is no x); below eps the matrix is singular
    to working precision (``singular``, LAPACK dgesvx's INFO = N + 1) and x is not meaningful, however
    small its backward error.
    """

    x: np.ndarray | None
    converged: bool
    code: int
    reason: str
    fell_back: bool
    factorization: str
    refinement: str
    niters: int
    outer_niters: int
    history: list
    backward_error: float
    tol: float
    times: dict = field(default_factory=dict)
    fallback_step: int = -1
    rcond: float = float("nan")

    @property
    def singular(self):
        """Singular to working precision: ``rcond`` < eps."""
        return self.rcond < EPS

    @property
    def code_name(self):
        return CODE_NAMES.get(self.code, str(self.code))

    @property
    def seconds(self):
        """Total seconds of this solve (every phase)."""
        return float(sum(self.times.values()))

    def report(self):
        """A flat dict of scalars and short lists, for result files and logs."""
        return {"converged": self.converged, "code": self.code, "code_name": self.code_name,
                "reason": self.reason, "fell_back": self.fell_back, "factorization": self.factorization,
                "refinement": self.refinement, "niters": self.niters, "outer_niters": self.outer_niters,
                "backward_error": self.backward_error, "history": list(self.history), "tol": self.tol,
                "fallback_step": self.fallback_step, "rcond": self.rcond, "seconds": self.seconds,
                **{f"{k}_seconds": v for k, v in self.times.items()}}
