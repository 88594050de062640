"""Solve A X = B to float64 accuracy: low-precision LU, iterative refinement, float64 fallback.

:class:`DenseFactorization` factors once and solves many times (the multigrid coarsest level's
use); :func:`solve` is the one-call form. The flow of a solve, as LAPACK DSGESV and cuSOLVER IRS:
  1. the LU in the factorization precision (or its failure: CONVERSION_OVERFLOW, FACTORIZATION_FAILURE);
  2. refinement (:mod:`hpcmix.dense.refinement`) until the tolerance test passes, or a failure code;
  3. on failure with ``fallback``: the float64 LU (LAPACK dgetrf, made once and kept) and its solve,
     refined with classical steps where the tolerance test does not pass at once. The code stays
     negative, ``fell_back`` is set, and ``converged`` is again the outcome of the test itself.
An exactly singular matrix (zero pivot in float64) raises :class:`SingularMatrixError`; a float64 LU
that overflows raises :class:`~hpcmix.errors.SolverError`. A matrix singular to working precision
(reciprocal condition estimate below eps, :meth:`DenseFactorization.rcond`) is reported as LAPACK
dgesvx does (INFO = N + 1): the solution is returned, ``singular`` is set and ``reason`` says it.
"""

import math
import time

import numpy as np

from ..errors import HpcmixError, SolverError
from . import formats
from .factorization import LowPrecisionLU, as_backend
from .lu import BLOCK_SIZE
from .norms import EPS, column_inf_norms, inf_norm
from .refinement import METHODS, refine
from .result import SUCCESS, DenseResult, SingularMatrixError

#: cuSOLVER IRS defaults: 50 iterations in all, 50 inner GMRES steps per outer step, inner tol 1e-4.
#: The total is also an economic limit: 50 GMRES steps at n = 4096 (a float64 matrix-vector product
#: and two triangular solves each) cost about as much as the float64 LU on a CPU (1.5 s against
#: 1.9 s for dgetrf, one core), so a solve that needs more is cheaper through the fallback. Matrices
#: whose singular values lie mostly below fp32's resolution (randsvd modes 1, 3, 5 at cond >= 1e10)
#: need of order n GMRES steps; ``max_iters`` ~ 3n makes GMRES-IR converge on them without fp64.
MAX_ITERS = 50
MAX_INNER = 50
INNER_TOL = 1e-4


def _first_nonfinite(M):
    idx = np.argwhere(~np.isfinite(M))[0]
    return ", ".join(str(int(i)) for i in idx)


def as_matrix(A, what="the matrix"):
    """``A`` as a C-ordered float64/complex128 square matrix; HpcmixError for a bad one."""
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise HpcmixError(f"{what} must be a non-empty square matrix, got shape {A.shape}")
    if A.dtype.kind not in "iufc":
        raise HpcmixError(f"{what} must be numeric, got dtype {A.dtype}")
    return np.ascontiguousarray(A, dtype=np.complex128 if np.iscomplexobj(A) else np.float64)


def check_finite(M, what):
    if not np.isfinite(M).all():
        raise HpcmixError(f"{what} contains NaN or Inf (first at index [{_first_nonfinite(M)}])")


class DenseFactorization:
    """A (kept in float64) and its LU in ``factorization`` (a name or a FactorizationPrecision).

    ``backend``: the :class:`~hpcmix.backends.base.Backend` whose kernels factor the matrix and refine the
    solutions (the run's backend; default the numpy backend). On the cupy backend with a GPU everything runs on the
    device (:mod:`hpcmix.dense.gpu`), on ``A_work``, a float64 copy of A made there once, here: the conversion (the
    norms, the squeezing and the rounding to the format, :class:`~hpcmix.dense.factorization.LowPrecisionLU`), the
    LU, its GEMMs in the factorization precision on tensor cores, the solves with its factors and the refinement
    with its float64 residuals. ``A`` stays on the host (the error message of a non-finite matrix and the rcond
    bound read it); on the host ``A_work`` is ``A`` itself. Device memory at n = 32768: A_work 8.6 GB (float64),
    the factors 4.3 GB (fp32 storage), their float64 widening for GMRES's preconditioner 8.6 GB (made on first
    use), the float64 LU of a fallback another 8.6 GB (made on first need), plus transient panel and GEMM
    operand copies and the conversion's blocks of rows. ``what`` names the matrix in errors. ``times`` holds the
    seconds of conversion (copying A to the device and ||A|| included) and factorization. The float64 LU of the
    fallback (on the same backend) is made on first need and reused by later solves, and so is its reciprocal
    condition estimate (LAPACK ?gecon on the host: the factors are copied there once). Solutions and results are
    returned on the host.
    """

    def __init__(self, A, factorization="fp32", *, backend=None, block_size=BLOCK_SIZE, registry=None,
                 what="the matrix"):
        if int(block_size) < 1:
            raise HpcmixError(f"block_size must be >= 1, got {block_size}")
        self.A = as_matrix(A, what)
        self.what = what
        self.n = self.A.shape[0]
        self.precision = formats.lookup(factorization, registry)
        self.backend = as_backend(backend)
        self.block_size = block_size
        kernels = self.backend.dense_kernels()
        t0 = time.perf_counter()
        self.A_work = kernels.xp.asarray(self.A)        # the one copy of A to the device (A itself on the host)
        self.normA = inf_norm(self.A_work)
        if not math.isfinite(self.normA):
            check_finite(self.A, what)
            raise HpcmixError(f"the infinity norm of {what} overflows float64; scale the matrix down")
        t1 = time.perf_counter()
        self.lu = LowPrecisionLU(self.A_work, self.precision, normA=self.normA, kernels=kernels,
                                 block_size=block_size)
        self.times = dict(self.lu.times)
        self.times["convert"] += t1 - t0
        self._lu64 = self.lu if self.precision is formats.FP64 else None

    def default_tol(self):
        """LAPACK DSGESV's tolerance sqrt(n) eps, but at least 2 eps: for n = 1 (and often 2) the float64
        residual of the correctly rounded solution exceeds sqrt(n) eps ||A|| ||x|| (1 x 1: in about
        a quarter of random cases), so the test could not be passed."""
        return max(math.sqrt(self.n), 2.0) * EPS

    def solve(self, B, refinement="classical", *, tol=None, max_iters=MAX_ITERS, max_inner=MAX_INNER,
              inner_tol=INNER_TOL, fallback=True):
        """Solve A X = B (B of shape (n,) or (n, k)); returns a :class:`DenseResult`."""
        if refinement not in METHODS:
            raise HpcmixError(f"unknown refinement '{refinement}'; one of {', '.join(METHODS)}")
        if max_iters < 0 or max_inner < 1:
            raise HpcmixError("max_iters must be >= 0 and max_inner >= 1")
        if tol is not None and not (math.isfinite(tol) and tol > 0):
            raise HpcmixError(f"tol must be a positive finite number, got {tol}")
        if not 0 < inner_tol < 1:
            raise HpcmixError(f"inner_tol must lie in (0, 1), got {inner_tol}")
        B = np.asarray(B)
        if B.dtype.kind not in "iufc":
            raise HpcmixError(f"the right-hand side must be numeric, got dtype {B.dtype}")
        vector = B.ndim == 1
        if B.ndim not in (1, 2) or B.shape[0] != self.n:
            raise HpcmixError(f"the right-hand side must have shape ({self.n},) or ({self.n}, k), got {B.shape}")
        B2 = np.ascontiguousarray(B.reshape(self.n, -1),
                                  dtype=np.complex128 if np.iscomplexobj(B) or np.iscomplexobj(self.A) else np.float64)
        check_finite(B2, "the right-hand side")
        tol = self.default_tol() if tol is None else float(tol)
        times = {}
        t0 = time.perf_counter()
        if self.precision is formats.FP64:
            self._factor64()            # an exactly singular matrix is an error, not a code
        if self.lu.ok:
            out = refine(self.A_work, B2, self.normA, self.lu, refinement, tol=tol, max_iters=max_iters,
                         max_inner=max_inner, inner_tol=inner_tol)
            X, code, reason, niters, outer, history = (out.X, out.code, out.reason, out.niters,
                                                      out.outer_niters, list(out.history))
            backward = out.backward_error
        else:
            X, code, reason, niters, outer, history = None, self.lu.code, self.lu.reason, 0, 0, []
            backward = math.inf
        times["refinement"] = time.perf_counter() - t0
        converged = code == SUCCESS
        fell_back, fallback_step = False, -1
        if not converged and fallback and self.precision is not formats.FP64:
            t1 = time.perf_counter()
            lu64 = self._factor64()
            times["fallback_factorization"] = time.perf_counter() - t1
            t2 = time.perf_counter()
            out64 = refine(self.A_work, B2, self.normA, lu64, "classical", tol=tol, max_iters=max(max_iters, 1),
                           max_inner=max_inner, inner_tol=inner_tol)
            times["fallback"] = time.perf_counter() - t2
            X, converged, fell_back, backward = out64.X, out64.code == SUCCESS, True, out64.backward_error
            fallback_step = len(history)
            history += out64.history
            reason = f"{reason}; fell back to the float64 LU" + ("" if converged else f" ({out64.reason})")
        rcond = self.rcond(X, B2) if X is not None else math.nan
        if rcond < EPS:
            reason += (f"; the matrix is singular to working precision (reciprocal condition estimate {rcond:.2e} "
                       "< eps, LAPACK's INFO = n + 1): the solution is not meaningful")
        if X is not None and vector:
            X = X[:, 0]
        return DenseResult(x=X, converged=converged, code=code, reason=reason, fell_back=fell_back,
                           factorization=self.precision.name, refinement=refinement, niters=niters,
                           outer_niters=outer, history=history, backward_error=backward, tol=tol, times=times,
                           fallback_step=fallback_step, rcond=rcond)

    def rcond(self, X, B):
        """An estimate of 1 / cond_inf(A): LAPACK ?gecon's on the float64 LU where one was made, and at most
        min_j ||b_j|| / (||A|| ||x_j||) (as ||x_j|| <= ||A^-1|| ||b_j||), which holds whatever solved A X = B."""
        xn = column_inf_norms(X)
        bound = float(np.min(column_inf_norms(B)[xn > 0] / (self.normA * xn[xn > 0]), initial=math.inf))
        if self._lu64 is not None and self._lu64.ok:
            return min(bound, self._lu64.rcond(self.normA))
        return bound

    def _factor64(self):
        if self._lu64 is None:
            self._lu64 = LowPrecisionLU(self.A_work, formats.FP64, normA=self.normA, backend=self.backend,
                                        block_size=self.block_size)
        if not self._lu64.ok:
            error = SingularMatrixError if self._lu64.singular else SolverError
            raise error(f"the float64 LU of {self.what} failed: {self._lu64.reason}")
        return self._lu64


def solve(A, B, factorization="fp32", refinement="classical", *, tol=None, max_iters=MAX_ITERS,
          max_inner=MAX_INNER, inner_tol=INNER_TOL, fallback=True, backend=None, block_size=BLOCK_SIZE,
          registry=None):
    """Solve A X = B to float64 accuracy with an LU in ``factorization`` and ``refinement``
    ("classical", "gmres", "classical_gmres") on ``backend`` (a Backend; default the numpy backend); see
    :class:`DenseFactorization` and the module doc.
    The result's ``times`` include the conversion and factorization."""
    f = DenseFactorization(A, factorization, backend=backend, block_size=block_size, registry=registry,
                           what="the matrix")
    result = f.solve(B, refinement, tol=tol, max_iters=max_iters, max_inner=max_inner, inner_tol=inner_tol,
                     fallback=fallback)
    result.times = {**f.times, **result.times}
    return result
