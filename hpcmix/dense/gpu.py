"""GPU kernels of the blocked LU (cupy), used where cupy imports and sees a device.

The matrix lives on the GPU. Panels go to the host for LAPACK ?getrf and back (MAGMA's hybrid
scheme: the panel is small, latency-bound work); interchanges, triangular solves and the trailing
GEMMs run on the GPU. The GEMMs run in the low precision through cublasGemmEx: fp16 and bf16
operands (CUDA_R_16F, CUDA_R_16BF) or fp32 operands with TF32 tensor-core math, always with fp32
accumulation and an fp32 result. Operands are rounded to the format first, with the same
round-to-nearest-even as on the host. Formats without a cuBLAS type, and complex matrices, run the
GEMM in fp32 on the rounded operands (identical numbers: the products are exact).
"""

import numpy as np

from ..errors import HpcmixError
from .lu import HostKernels
from .squeeze import operand_scale

try:  # pragma: no cover - exercised only where cupy is installed
    import cupy
    import cupyx.scipy.linalg as cupy_linalg
    from cupy_backends.cuda.libs import cublas
except Exception:  # ImportError, or a CUDA library that fails to load
    cupy = None

# cudaDataType_t and cublasComputeType_t values (cuda_runtime_api.h, cublas_api.h)
_CUDA_R_32F, _CUDA_R_16F, _CUDA_R_16BF = 0, 2, 14
_COMPUTE_32F, _COMPUTE_32F_FAST_TF32 = 68, 77
_GEMM_DEFAULT = -1


def available():
    """True where cupy imports and at least one CUDA device is visible."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def require():
    if not available():
        raise HpcmixError("dense backend 'cupy' needs cupy and a CUDA device; neither is usable here "
                          "(install hpcmix[cuda12] on a GPU node, or use backend = \"numpy\")")


class CupyKernels:  # pragma: no cover - needs a GPU
    """The kernels of :func:`hpcmix.dense.lu.blocked_lu` on cupy arrays."""

    def __init__(self):
        self.host = HostKernels()

    @staticmethod
    def to_device(W):
        return cupy.asfortranarray(cupy.asarray(W))

    @staticmethod
    def to_host(W):
        return np.asfortranarray(cupy.asnumpy(W))

    def getrf(self, panel):
        """The panel on the host (LAPACK), its factors back on the device."""
        lu, ip, info = self.host.getrf(cupy.asnumpy(panel))
        return cupy.asarray(lu), ip, info

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
        """W22 -= s rnd(L21) rnd(U12 / s), as :meth:`HostKernels.update`, with the GEMM on the GPU."""
        if precision.native:
            W22 -= L21 @ U12
            return
        s = operand_scale(U12, precision.max_value) if precision.squeeze else 1.0
        L21, U12 = self._round(L21, precision), self._round(U12 / s, precision)
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
        ``dtype``, fp32 result accumulated with ``compute``; W22 is a window of the full matrix."""
        m, kk = a.shape
        n = b.shape[1]
        ldc = W22.strides[1] // W22.itemsize
        alpha, beta = np.array(-s, np.float32), np.array(1.0, np.float32)
        cublas.gemmEx(cupy.cuda.device.get_cublas_handle(), cublas.CUBLAS_OP_N, cublas.CUBLAS_OP_N, m, n, kk,
                      alpha.ctypes.data, a.data.ptr, dtype, m, b.data.ptr, dtype, kk,
                      beta.ctypes.data, W22.data.ptr, _CUDA_R_32F, ldc, compute, _GEMM_DEFAULT)

    @staticmethod
    def _round(x, precision):
        """Round fp32 operands on the GPU: fp16 by a cast (RNE), bf16 and tf32 by RNE on the fp32 bit
        pattern; other formats through ``precision.round`` on the host."""
        if x.dtype.kind == "c":
            return CupyKernels._round(x.real, precision) + 1j * CupyKernels._round(x.imag, precision)
        if precision.cuda_gemm == "16F":
            return x.astype(cupy.float16).astype(cupy.float32)
        if precision.cuda_gemm in ("16BF", "TF32") and x.dtype == np.float32:
            drop = 16 if precision.cuda_gemm == "16BF" else 13
            u = cupy.ascontiguousarray(x).view(cupy.uint32)
            keep = cupy.uint32(~((1 << drop) - 1) & 0xFFFFFFFF)
            r = (u + cupy.uint32((1 << (drop - 1)) - 1) + ((u >> drop) & cupy.uint32(1))) & keep
            return cupy.where(cupy.isnan(x), x, r.view(cupy.float32))
        return cupy.asarray(precision.round(cupy.asnumpy(x)))

    @staticmethod
    def all_finite(x):
        return bool(cupy.isfinite(x).all())
