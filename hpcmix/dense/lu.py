"""Blocked right-looking LU with partial pivoting whose trailing update runs in a low precision.

For a column-major (Fortran-ordered) n x n matrix W and block size nb, step k (k = 0, nb, 2 nb, ...):
  1. panel:  P [W11; W21] = [L11; L21] U11   (LAPACK ?getrf on the n-k x nb panel, in ``storage``);
  2. apply the panel's row interchanges to the columns left and right of the panel;
  3. U12 = L11^-1 W12                       (unit lower triangular solve, ?trsm, in ``storage``);
  4. W22 <- W22 - rnd(L21) rnd(U12)          (the O(n^3) part: operands rounded to the format with
                                              ``precision.round``, products accumulated in fp32; a
                                              squeezing precision scales U12 into range first, see
                                              :func:`hpcmix.dense.squeeze.operand_scale`).
The factors overwrite W in LAPACK's layout with 0-based pivots ``piv`` (row i was interchanged with
row piv[i]), so LAPACK's ?getrs solves with them. A zero pivot or a non-finite number in a panel or
in U12 (overflow of the format during the factorization) raises :class:`LUFailure`.

The array work goes through a kernels object, the backend's (:meth:`hpcmix.backends.base.Backend.dense_kernels`:
:class:`HostKernels` here on the CPU backends, the cupy kernels of :mod:`hpcmix.dense.gpu` on a GPU); the driver
itself only slices and loops.
"""

import numpy as np
from scipy.linalg import blas, lapack, norm

from .squeeze import operand_scale

#: Default block size nb of the blocked LU.
BLOCK_SIZE = 256


class LUFailure(Exception):
    """The factorization broke down: a zero pivot (``singular``) or overflow to inf/NaN."""

    def __init__(self, message, singular=False):
        super().__init__(message)
        self.singular = singular


class HostKernels:
    """NumPy/LAPACK/BLAS kernels of the blocked LU (the reference), and of the solves and the refinement that
    follow it: ``xp`` is the array module of the arrays these kernels work on (the factors, the float64 A and
    the iterates of :mod:`hpcmix.dense.refinement`), ``to_host`` brings one of them back as a numpy array."""

    xp = np

    _getrf = {np.dtype(np.float32): lapack.sgetrf, np.dtype(np.float64): lapack.dgetrf,
              np.dtype(np.complex64): lapack.cgetrf, np.dtype(np.complex128): lapack.zgetrf}
    _laswp = {np.dtype(np.float32): lapack.slaswp, np.dtype(np.float64): lapack.dlaswp,
              np.dtype(np.complex64): lapack.claswp, np.dtype(np.complex128): lapack.zlaswp}
    _trsm = {np.dtype(np.float32): blas.strsm, np.dtype(np.float64): blas.dtrsm,
             np.dtype(np.complex64): blas.ctrsm, np.dtype(np.complex128): blas.ztrsm}
    _getrs = {np.dtype(np.float32): lapack.sgetrs, np.dtype(np.float64): lapack.dgetrs,
              np.dtype(np.complex64): lapack.cgetrs, np.dtype(np.complex128): lapack.zgetrs}

    @staticmethod
    def to_device(W):
        """W where these kernels work on it: the host array itself."""
        return W

    @staticmethod
    def to_host(W):
        return W

    def getrf(self, panel):
        """LU of a tall panel in its own precision; returns (factors, 0-based pivots, info)."""
        lu, ip, info = self._getrf[panel.dtype](np.asfortranarray(panel))
        return lu, ip, info

    def place_panel(self, W, k, lu, piv):
        """Interchange rows k..k+b-1 of W with rows piv[k..k+b-1] across all columns (?laswp), then
        store the factored panel ``lu`` in columns k..k+b-1."""
        b = lu.shape[1]
        self._laswp[W.dtype](W, piv, k1=k, k2=k + b - 1, overwrite_a=1)
        W[k:, k:k + b] = lu

    def trsm(self, L11, W12):
        """L11^-1 W12 with L11 unit lower triangular."""
        return self._trsm[W12.dtype](1.0, L11, W12, lower=1, diag=1)

    def round(self, x, precision):
        """``x`` (an array of ``xp``) rounded to ``precision``'s format, as ``precision.storage_for(x.dtype)``, where
        these kernels work: with numpy ``precision.round`` itself; with another module (cupy on a GPU) the format's
        rounding in that module (:meth:`~hpcmix.dense.formats.FactorizationPrecision.round_in`: fp64, fp32, tf32,
        bf16, fp16), the same numbers. A format without one (a plugin's e8m5, say) falls back to the host rounding:
        ``x`` is copied to the host, rounded there and copied back. The one rounding of the conversion of A and of
        the GEMM operands of :meth:`update`."""
        if self.xp is np:
            return precision.round(x)
        out = precision.round_in(x, self.xp)
        if out is None:     # the host rounding, with a round trip
            out = self.xp.asarray(precision.round(self.to_host(x)))
        return out

    def update(self, W22, L21, U12, precision):
        """W22 -= s rnd(L21) rnd(U12 / s) in place: a storage-precision GEMM on rounded operands (:meth:`round`),
        with s = 1, or for a squeezing precision the power of two that scales U12 into range."""
        s = operand_scale(U12, precision.max_value) if precision.squeeze else 1.0
        if not precision.native:
            L21, U12 = self.round(L21, precision), self.round(U12 / s, precision)
        with np.errstate(all="ignore"):    # an overflow shows up as inf/NaN in the next panel
            product = (U12.T @ L21.T).T    # in Fortran order, like W22: a fast subtraction
            if s != 1.0:
                product *= s
            W22 -= product

    def all_finite(self, x):
        return bool(np.isfinite(x).all())

    def getrs(self, lu, piv, C):
        """Z with M Z = C in the precision of ``lu``, where (``lu``, ``piv``) is the LU of M^T as ?getrf leaves it
        (LAPACK ?getrs with trans = "T")."""
        return self._getrs[lu.dtype](lu, piv, C, trans=1)[0]

    @staticmethod
    def nrm2(v):
        """The 2-norm of the vector v as a float, by BLAS ?nrm2 (scaled: no overflow or underflow in the sum of
        squares)."""
        return float(norm(v, check_finite=False))


def blocked_lu(W, precision, block_size=BLOCK_SIZE, kernels=None):
    """Factor the square Fortran-ordered W in place (see the module doc); returns the 0-based pivots."""
    if not (W.flags.f_contiguous and W.shape[0] == W.shape[1]):
        raise ValueError("blocked_lu needs a square Fortran-ordered matrix")
    kernels = kernels or HostKernels()
    n = W.shape[0]
    piv = np.arange(n, dtype=np.int32)
    for k in range(0, n, block_size):
        b = min(block_size, n - k)
        lu, ip, info = kernels.getrf(W[k:, k:k + b])
        if info > 0:
            raise LUFailure(f"zero pivot in column {k + info} (1-based) of the {precision.name} LU", True)
        if not kernels.all_finite(lu):
            raise LUFailure(f"overflow (inf or NaN) in the {precision.name} LU panel at column {k + 1}")
        piv[k:k + b] = np.asarray(ip) + k
        kernels.place_panel(W, k, lu, piv)
        if k + b < n:
            U12 = kernels.trsm(W[k:k + b, k:k + b], W[k:k + b, k + b:])
            if not kernels.all_finite(U12):
                raise LUFailure(f"overflow (inf or NaN) in the {precision.name} LU row block at row {k + 1}")
            W[k:k + b, k + b:] = U12
            kernels.update(W[k + b:, k + b:], W[k + b:, k:k + b], U12, precision)
    return piv
