"""The LU of a matrix in a factorization precision, and the solves iterative refinement makes with it.

With A' = A, or A' = mu R A S for a squeezing precision (:mod:`hpcmix.dense.squeeze`), the matrix
rounded to the format, Ã = rnd(A'), is held row-major, so its transpose is column-major at no cost;
LAPACK factors that transpose, Ã^T = P L U, and ?getrs with trans = "T" solves Ã z = c. Hence
    A^-1 c ~ S Ã^-1 (mu R c).
``solve_low`` runs the triangular solves in the storage precision of the factors (fp32, or fp64 for
the fp64 format) on right-hand sides scaled column by column to unit infinity norm, so the conversion
cannot overflow; ``solve64`` runs them in float64 with the factors widened exactly (GMRES's
preconditioner). A right-hand side with a complex part is solved as two real ones for a real A.

The factorization runs on the kernels of a backend (:meth:`hpcmix.backends.base.Backend.dense_kernels`):
LAPACK's own ?getrf for fp32 and fp64 with the host kernels, else the blocked LU of :mod:`.lu` on the
backend's kernels. The conversion (norms, squeezing, rounding: ``_convert``) runs where the kernels work
(``kernels.xp``: numpy on the host, cupy on a GPU), on A given there (``DenseFactorization.A_work``, copied once)
or copied there here, a block of rows at a time, in float64 up to the rounding (``kernels.round``, the kernel
set's one rounding, also the GEMM operands'; a format without an array-module rounding falls back to the host
rounding, with a round trip of each block). The working matrix is made there in the storage precision and factored
in place; the factors, the pivots the solves use and the squeezing's diagonal scalings live there, and
``solve_low`` and ``solve64`` take and return arrays there, solving with ``kernels.getrs``. ``piv`` is also kept
on the host. Only ``rcond`` brings the factors back to the host (LAPACK ?gecon), once per factorization.
"""

import time

import numpy as np
from scipy.linalg import lapack

from ..backends.base import Backend
from ..backends.numpy_backend import NumpyBackend
from .lu import BLOCK_SIZE, HostKernels, LUFailure, blocked_lu
from .norms import inf_norm, max_abs_part, row_blocks
from .result import CONVERSION_OVERFLOW, FACTORIZATION_FAILURE, SUCCESS
from .squeeze import apply, scalings

_getrf = {np.dtype(np.float32): lapack.sgetrf, np.dtype(np.float64): lapack.dgetrf,
          np.dtype(np.complex64): lapack.cgetrf, np.dtype(np.complex128): lapack.zgetrf}
_gecon = {np.dtype(np.float32): lapack.sgecon, np.dtype(np.float64): lapack.dgecon,
          np.dtype(np.complex64): lapack.cgecon, np.dtype(np.complex128): lapack.zgecon}


class RefinementOverflow(Exception):
    """A solve with the factors produced inf or NaN."""


def as_backend(backend):
    """``backend``, or the numpy backend for None; a TypeError for anything but a Backend object."""
    if backend is None:
        return NumpyBackend()
    if not isinstance(backend, Backend):
        raise TypeError(f"backend must be a hpcmix Backend object (such as the run's ctx.backend), got {backend!r}")
    return backend


class LowPrecisionLU:
    """LU factors of the float64/complex128 C-ordered matrix ``A`` in ``precision``.

    ``code`` is 0 on success, CONVERSION_OVERFLOW or FACTORIZATION_FAILURE (``reason`` says why;
    ``singular`` tells a zero pivot from an overflow).
    ``times`` has the seconds of the conversion (norms, scaling, rounding) and of the factorization.
    ``backend`` (a :class:`~hpcmix.backends.base.Backend`; default the numpy backend) gives ``kernels``, those of
    the factorization and of the solves with its factors (module doc).
    """

    def __init__(self, A, precision, *, normA=None, backend=None, kernels=None, block_size=BLOCK_SIZE):
        self.kernels = kernels = kernels if kernels is not None else as_backend(backend).dense_kernels()
        self.precision = precision
        self.n = A.shape[0]
        self.code, self.reason, self.singular = SUCCESS, "", False
        self.times = {"convert": 0.0, "factorization": 0.0}
        self._lu64 = None
        self._rcond = None
        t0 = time.perf_counter()
        self.r = self.s = None
        self.mu = 1.0
        W = self._convert(kernels.xp.asarray(A), normA, kernels)
        t1 = time.perf_counter()
        self.times["convert"] = t1 - t0
        if W is None:
            return
        try:
            self.lu, self.piv = self._factor(W.T, kernels, block_size)
            self._piv = kernels.xp.asarray(self.piv)
        except LUFailure as exc:
            self.code, self.reason, self.singular = FACTORIZATION_FAILURE, str(exc), exc.singular
        self.times["factorization"] = time.perf_counter() - t1

    def _convert(self, A, normA, kernels):
        """The working matrix rnd(A'), C-ordered in the storage precision, made from ``A`` (an array of
        ``kernels.xp``) there, with its norms, squeezing and rounding (``kernels.round``), a block of rows at a time
        (:func:`~hpcmix.dense.norms.row_blocks`); None, with ``code`` set, if an entry overflows the format."""
        precision, xp = self.precision, kernels.xp
        if precision.squeeze:
            r, s, self.mu = scalings(A, precision.max_value, xp=xp)
            self.r, self.s = r, s
        else:
            normA = inf_norm(A) if normA is None else normA
            # max |a_ij| <= ||A||_inf, so only a large norm needs the entry-wise test
            if precision.overflows(normA) and precision.overflows(max_abs_part(A)):
                self.code = CONVERSION_OVERFLOW
                self.reason = (f"an entry of the matrix exceeds the largest {precision.name} number "
                               f"({precision.max_value:.6g})")
                return None
        W = xp.empty(A.shape, precision.storage_for(A.dtype))
        for i, j in row_blocks(*A.shape):
            block = A[i:j] if self.r is None else apply(A[i:j], self.r[i:j], self.s, self.mu)
            W[i:j] = kernels.round(block, precision)
        return W

    def _factor(self, Wt, kernels, block_size):
        """(factors where ``kernels`` work, pivots on the host) of the Fortran-ordered ``Wt``: LAPACK's ?getrf for
        a native precision with the host kernels themselves, else the blocked LU on ``kernels`` (a wrapper or
        subclass of the host kernels included)."""
        p = self.precision
        if not (p.native and type(kernels) is HostKernels):
            Wd = kernels.to_device(Wt)
            return Wd, blocked_lu(Wd, p, block_size, kernels)
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
        (the factors are those of its transpose, so this is their 1-norm estimate). Factors on a device are
        copied to the host for it; the estimate is made once per factorization (and ``normA``) and kept."""
        if self._rcond is None or self._rcond[0] != normA:
            self._rcond = normA, float(_gecon[self.lu.dtype](self.kernels.to_host(self.lu), normA, norm="1")[0])
        return self._rcond[1]

    def solve_low(self, C):
        """A^-1 C with the triangular solves in the factors' storage precision (C and the result where the
        kernels work, module doc)."""
        return self._solve(C, self.lu, low=True)

    def solve64(self, C):
        """A^-1 C with the factors widened to float64 (complex128) and float64 triangular solves (C and the
        result where the kernels work; the widened factors are made on first use and kept there)."""
        if self._lu64 is None:
            self._lu64 = self.lu.astype(np.result_type(self.lu.dtype, np.float64), order="F")
        return self._solve(C, self._lu64, low=False)

    def _solve(self, C, lu, low):
        xp = self.kernels.xp
        C = xp.asarray(C)
        if xp.iscomplexobj(C) and not xp.iscomplexobj(lu):
            return self._solve(C.real, lu, low) + 1j * self._solve(C.imag, lu, low)
        if self.r is not None:
            C = self.mu * (self.r.reshape((-1,) + (1,) * (C.ndim - 1)) * C)
        scale = None
        if low:
            scale = abs(C).max(axis=0) if C.size else xp.zeros(C.shape[1:])
            scale = xp.where(scale > 0, scale, 1.0)
            C = C / scale
        with np.errstate(all="ignore"):
            Z = self.kernels.getrs(lu, self._piv, C.astype(lu.dtype, copy=False))
            Z = Z.astype(np.result_type(Z.dtype, np.float64))
            if scale is not None:
                Z *= scale
            if self.s is not None:
                Z *= self.s.reshape((-1,) + (1,) * (Z.ndim - 1))
        if not bool(xp.isfinite(Z).all()):
            raise RefinementOverflow(f"inf or NaN in a solve with the {self.precision.name} factors")
        return Z
