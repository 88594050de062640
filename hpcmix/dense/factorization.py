"""The LU of a matrix in a factorization precision, and the solves iterative refinement makes with it.

With A' = A, or A' = mu R A S for a squeezing precision (:mod:`hpcmix.dense.squeeze`), the matrix
rounded to the format, Ã = rnd(A'), is held row-major, so its transpose is column-major at no cost;
LAPACK factors that transpose, Ã^T = P L U, and ?getrs with trans = "T" solves Ã z = c. Hence
    A^-1 c ~ S Ã^-1 (mu R c).
``solve_low`` runs the triangular solves in the storage precision of the factors (fp32, or fp64 for
the fp64 format) on right-hand sides scaled column by column to unit infinity norm, so the conversion
cannot overflow; ``solve64`` runs them in float64 with the factors widened exactly (GMRES's
preconditioner). A right-hand side with a complex part is solved as two real ones for a real A.
"""

import time

import numpy as np
from scipy.linalg import lapack

from ..errors import HpcmixError
from . import gpu
from .lu import BLOCK_SIZE, HostKernels, LUFailure, blocked_lu
from .norms import inf_norm
from .result import CONVERSION_OVERFLOW, FACTORIZATION_FAILURE, SUCCESS
from .squeeze import squeeze

_getrf = {np.dtype(np.float32): lapack.sgetrf, np.dtype(np.float64): lapack.dgetrf,
          np.dtype(np.complex64): lapack.cgetrf, np.dtype(np.complex128): lapack.zgetrf}
_gecon = {np.dtype(np.float32): lapack.sgecon, np.dtype(np.float64): lapack.dgecon,
          np.dtype(np.complex64): lapack.cgecon, np.dtype(np.complex128): lapack.zgecon}
_getrs = {np.dtype(np.float32): lapack.sgetrs, np.dtype(np.float64): lapack.dgetrs,
          np.dtype(np.complex64): lapack.cgetrs, np.dtype(np.complex128): lapack.zgetrs}


class RefinementOverflow(Exception):
    """A solve with the factors produced inf or NaN."""


def resolve_backend(backend):
    """"numpy", "cupy", or "auto" (cupy where usable, else numpy) -> "numpy" | "cupy"."""
    if backend == "auto":
        return "cupy" if gpu.available() else "numpy"
    if backend == "cupy":
        gpu.require()
    elif backend != "numpy":
        raise HpcmixError(f"unknown dense backend {backend!r} (auto, numpy, cupy)")
    return backend


class LowPrecisionLU:
    """LU factors of the float64/complex128 C-ordered matrix ``A`` in ``precision``.

    ``code`` is 0 on success, CONVERSION_OVERFLOW or FACTORIZATION_FAILURE (``reason`` says why;
    ``singular`` tells a zero pivot from an overflow).
    ``times`` has the seconds of the conversion (norms, scaling, rounding) and of the factorization.
    """

    def __init__(self, A, precision, *, normA=None, backend="numpy", block_size=BLOCK_SIZE):
        self.precision = precision
        self.n = A.shape[0]
        self.code, self.reason, self.singular = SUCCESS, "", False
        self.times = {"convert": 0.0, "factorization": 0.0}
        self._lu64 = None
        t0 = time.perf_counter()
        self.r = self.s = None
        self.mu = 1.0
        source = A
        if precision.squeeze:
            source, self.r, self.s, self.mu = squeeze(A, precision.max_value)
        else:
            normA = inf_norm(A) if normA is None else normA
            # max |a_ij| <= ||A||_inf, so only a large norm needs the entry-wise test
            if precision.overflows(normA) and precision.overflows(float(np.abs(A.view(A.real.dtype)).max())):
                self.code = CONVERSION_OVERFLOW
                self.reason = (f"an entry of the matrix exceeds the largest {precision.name} number "
                               f"({precision.max_value:.6g})")
                self.times["convert"] = time.perf_counter() - t0
                return
        W = precision.round(source)
        if W is A:                      # fp64: the factorization must not overwrite the caller's A
            W = A.copy()
        t1 = time.perf_counter()
        self.times["convert"] = t1 - t0
        try:
            self.lu, self.piv = self._factor(W.T, backend, block_size)
        except LUFailure as exc:
            self.code, self.reason, self.singular = FACTORIZATION_FAILURE, str(exc), exc.singular
        self.times["factorization"] = time.perf_counter() - t1

    def _factor(self, Wt, backend, block_size):
        p = self.precision
        if backend == "cupy":
            kernels = gpu.CupyKernels()
            Wd = kernels.to_device(Wt)
            piv = blocked_lu(Wd, p, block_size, kernels)
            return kernels.to_host(Wd), piv
        if not p.native:
            return Wt, blocked_lu(Wt, p, block_size, HostKernels())
        lu, piv, info = _getrf[Wt.dtype](Wt, overwrite_a=1)
        if info > 0:
            raise LUFailure(f"zero pivot in column {info} (1-based) of the {p.name} LU", True)
        if not np.isfinite(lu).all():
            raise LUFailure(f"overflow (inf or NaN) in the {p.name} LU factors")
        return lu, piv

    @property
    def ok(self):
        return self.code == SUCCESS

    def rcond(self, normA):
        """LAPACK ?gecon's estimate of 1 / cond_inf of the factored matrix, whose infinity norm is ``normA``
        (the factors are those of its transpose, so this is their 1-norm estimate)."""
        return float(_gecon[self.lu.dtype](self.lu, normA, norm="1")[0])

    def solve_low(self, C):
        """A^-1 C with the triangular solves in the factors' storage precision."""
        return self._solve(C, self.lu, low=True)

    def solve64(self, C):
        """A^-1 C with the factors widened to float64 (complex128) and float64 triangular solves."""
        if self._lu64 is None:
            self._lu64 = self.lu.astype(np.result_type(self.lu.dtype, np.float64), order="F")
        return self._solve(C, self._lu64, low=False)

    def _solve(self, C, lu, low):
        C = np.asarray(C)
        if np.iscomplexobj(C) and not np.iscomplexobj(lu):
            return self._solve(C.real, lu, low) + 1j * self._solve(C.imag, lu, low)
        if self.r is not None:
            C = self.mu * (self.r.reshape((-1,) + (1,) * (C.ndim - 1)) * C)
        scale = None
        if low:
            scale = np.abs(C).max(axis=0) if C.size else np.zeros(C.shape[1:])
            scale = np.where(scale > 0, scale, 1.0)
            C = C / scale
        with np.errstate(all="ignore"):
            Z, _ = _getrs[lu.dtype](lu, self.piv, C.astype(lu.dtype, copy=False), trans=1)
            Z = Z.astype(np.result_type(Z.dtype, np.float64))
            if scale is not None:
                Z *= scale
            if self.s is not None:
                Z *= self.s.reshape((-1,) + (1,) * (Z.ndim - 1))
        if not np.isfinite(Z).all():
            raise RefinementOverflow(f"inf or NaN in a solve with the {self.precision.name} factors")
        return Z
