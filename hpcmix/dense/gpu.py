"""GPU kernels of the blocked LU and of the refinement after it (cupy): the cupy backend's dense kernels on a
GPU (:meth:`hpcmix.backends.cupy_backend.CupyBackend.dense_kernels`, which alone imports this module).

Everything runs on the GPU: A (float64) is copied there once, converted there (norms, squeezing, rounding to
the format: :class:`hpcmix.dense.factorization.LowPrecisionLU`) and the working matrix factored in place. Panels are
factored by cuSOLVER ?getrf (``cupyx.scipy.linalg.lu_factor``) in the storage precision; only each panel's
b pivots and its zero-pivot test come to the host. Interchanges, triangular solves and the trailing GEMMs
run on the GPU. The GEMMs run in the low precision through cublasGemmEx: fp16 and bf16 operands
(CUDA_R_16F, CUDA_R_16BF) or fp32 operands with TF32 tensor-core math, always with fp32 accumulation and an
fp32 result. Operands are rounded to the format first, with the same round-to-nearest-even as on the host.
Formats without a cuBLAS type, and complex matrices, run the GEMM in fp32 on the rounded operands
(identical numbers: the products are exact). The factors stay on the GPU: the solves with them are cuSOLVER
?getrs (``cupyx.scipy.linalg.lu_solve``), and :mod:`hpcmix.dense.refinement` runs on cupy arrays (``xp``).
"""

import warnings

import cupy
import cupy.cublas
import cupyx.scipy.linalg as cupy_linalg
import numpy as np
from cupy_backends.cuda.libs import cublas

from .lu import HostKernels
from .squeeze import operand_scale

# cudaDataType_t and cublasComputeType_t values (cuda_runtime_api.h, cublas_api.h)
_CUDA_R_32F, _CUDA_R_16F, _CUDA_R_16BF = 0, 2, 14
_COMPUTE_32F, _COMPUTE_32F_FAST_TF32 = 68, 77
_GEMM_DEFAULT = -1


class CupyKernels:  # pragma: no cover - needs a GPU
    """The kernels of :func:`hpcmix.dense.lu.blocked_lu` and of the refinement on cupy arrays (the interface of
    :class:`~hpcmix.dense.lu.HostKernels`)."""

    xp = cupy

    @staticmethod
    def to_device(W):
        return cupy.asfortranarray(cupy.asarray(W))

    @staticmethod
    def to_host(W):
        return np.asfortranarray(cupy.asnumpy(W))

    @staticmethod
    def getrf(panel):
        """LU of the tall device panel in its own precision by cuSOLVER ?getrf; returns (factors on the device,
        0-based pivots on the host, info). lu_factor only warns of a zero pivot (and cuSOLVER then divides by
        it), so info is LAPACK's from U's diagonal: 1 + the index of its first zero, 0 if there is none."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lu, ip = cupy_linalg.lu_factor(panel, check_finite=False)
        zero = np.flatnonzero(cupy.asnumpy(cupy.diagonal(lu)) == 0)
        return lu, cupy.asnumpy(ip), (int(zero[0]) + 1 if zero.size else 0)

    def place_panel(self, W, k, lu, piv):
        """The panel's interchanges as one row gather over all columns, then the factored panel."""
        b = lu.shape[1]
        ip = piv[k:k + b] - k
        perm = np.arange(max(b, int(ip.max()) + 1))
        for i, p in enumerate(ip):
            perm[i], perm[p] = perm[p], perm[i]
        moved = np.nonzero(perm != np.arange(len(perm)))[0]
        if len(moved):
            rows = W[k:k + len(perm)]
            rows[cupy.asarray(moved)] = rows[cupy.asarray(perm[moved])]
        W[k:, k:k + b] = lu

    def trsm(self, L11, W12):
        return cupy_linalg.solve_triangular(L11, W12, lower=True, unit_diagonal=True)

    def update(self, W22, L21, U12, precision):
        """W22 -= s rnd(L21) rnd(U12 / s), as :meth:`~hpcmix.dense.lu.HostKernels.update`, with the GEMM on the GPU."""
        if precision.native:
            W22 -= L21 @ U12
            return
        s = operand_scale(U12, precision.max_value) if precision.squeeze else 1.0
        L21, U12 = self.round(L21, precision), self.round(U12 / s, precision)
        kind = precision.cuda_gemm if W22.dtype == np.float32 else None
        if kind is None:
            W22 -= s * (L21 @ U12)    # exact products of rounded operands, fp32 sums
            return
        if kind == "16F":
            a, b, dtype, compute = L21.astype(cupy.float16), U12.astype(cupy.float16), _CUDA_R_16F, _COMPUTE_32F
        elif kind == "16BF":  # the top half of an fp32 already rounded to bf16 is its bf16 bit pattern
            a, b = [(cupy.asfortranarray(x).view(cupy.uint32) >> 16).astype(cupy.uint16) for x in (L21, U12)]
            dtype, compute = _CUDA_R_16BF, _COMPUTE_32F
        else:  # "TF32"
            a, b, dtype, compute = L21, U12, _CUDA_R_32F, _COMPUTE_32F_FAST_TF32
        self._gemm_ex(cupy.asfortranarray(a), cupy.asfortranarray(b), W22, dtype, compute, s)

    @staticmethod
    def _gemm_ex(a, b, W22, dtype, compute, s):
        """W22 <- W22 - s a b with cublasGemmEx: column-major a (m x k) and b (k x n) of CUDA type
        ``dtype``, fp32 result accumulated with ``compute``; W22 is a window of the full matrix. Queued on cupy's
        current stream (the cupy backend's compute stream, which does not synchronize with the legacy default
        stream), after the roundings that made a and b."""
        m, kk = a.shape
        n = b.shape[1]
        ldc = W22.strides[1] // W22.itemsize
        alpha, beta = np.array(-s, np.float32), np.array(1.0, np.float32)
        handle = cupy.cuda.device.get_cublas_handle()
        cublas.setStream(handle, cupy.cuda.get_current_stream().ptr)     # the stream cupy's own work is queued on
        cublas.gemmEx(handle, cublas.CUBLAS_OP_N, cublas.CUBLAS_OP_N, m, n, kk,
                      alpha.ctypes.data, a.data.ptr, dtype, m, b.data.ptr, dtype, kk,
                      beta.ctypes.data, W22.data.ptr, _CUDA_R_32F, ldc, compute, _GEMM_DEFAULT)

    #: The kernel sets' one rounding (:meth:`hpcmix.dense.lu.HostKernels.round`): fp16, bf16, tf32 (and fp32, fp64)
    #: by cupy array operations on the GPU, from float32 (the GEMM operands) or float64 (the conversion of A), bit for
    #: bit the host's numbers (:mod:`hpcmix.dense.formats`); other formats on the host, with a copy each way.
    round = HostKernels.round

    @staticmethod
    def all_finite(x):
        return bool(cupy.isfinite(x).all())

    @staticmethod
    def getrs(lu, piv, C):
        """Z with M Z = C in the precision of ``lu``, where (``lu``, ``piv``: device arrays, 0-based pivots) is
        the LU of M^T: cuSOLVER ?getrs with trans = "T"."""
        return cupy_linalg.lu_solve((lu, piv), C, trans=1, check_finite=False)

    @staticmethod
    def nrm2(v):
        """The 2-norm of the device vector v as a float, by cuBLAS ?nrm2."""
        return float(cupy.cublas.nrm2(cupy.ascontiguousarray(v)))
