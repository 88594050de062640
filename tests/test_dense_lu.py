"""The blocked low-precision LU and the factorization object, checked against LAPACK and against
the update rule written out by hand."""

import numpy as np
import pytest
from scipy.linalg import blas, lapack

from hpcmix import dense
from hpcmix.backends.numba_backend import NumbaBackend
from hpcmix.backends.numpy_backend import NumpyBackend
from hpcmix.dense import formats
from hpcmix.dense.factorization import LowPrecisionLU, RefinementOverflow, as_backend
from hpcmix.dense.lu import HostKernels, LUFailure, blocked_lu
from hpcmix.dense.result import CONVERSION_OVERFLOW, FACTORIZATION_FAILURE


def permutation(piv, n=None):
    perm = np.arange(n or len(piv))
    for i, p in enumerate(piv):
        perm[[i, p]] = perm[[p, i]]
    return perm


def reconstruct(lu, piv):
    """P^T L U: the matrix whose LU (with interchanges piv) is ``lu``."""
    L = np.tril(lu, -1) + np.eye(lu.shape[0])
    U = np.triu(lu)
    out = np.empty_like(lu, dtype=np.result_type(lu, np.float64))
    out[permutation(piv)] = L.astype(out.dtype) @ U.astype(out.dtype)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_native_blocked_lu_equals_lapack(dtype):
    rng = np.random.default_rng(0)
    n = 150
    A = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if dtype == np.complex64 else 0)
    W = np.asfortranarray(A.astype(dtype))
    lu_ref, piv_ref, info = lapack.cgetrf(W) if dtype == np.complex64 else lapack.sgetrf(W)
    piv = blocked_lu(W, formats.FP32, block_size=32)
    np.testing.assert_array_equal(piv, piv_ref)
    np.testing.assert_allclose(W, lu_ref, atol=1e-3, rtol=0)   # fp32 sums in another order


def test_one_step_of_the_update_rounds_the_gemm_operands():
    """With n = 2 nb, the second panel is factored from W22 - rnd(L21) rnd(U12) accumulated in fp32."""
    rng = np.random.default_rng(1)
    nb, n = 16, 32
    A = formats.FP16.round(rng.standard_normal((n, n)) * 3)
    W = np.asfortranarray(A.copy())
    piv = blocked_lu(W, formats.FP16, block_size=nb)
    # by hand with LAPACK/BLAS directly
    lu1, ip1, _ = lapack.sgetrf(np.asfortranarray(A[:, :nb]))
    B = A.copy()
    B[:] = B[permutation(ip1, n)]
    U12 = blas.strsm(1.0, lu1[:nb, :nb], np.asfortranarray(B[:nb, nb:]), lower=1, diag=1)
    L21 = lu1[nb:, :nb]
    W22 = B[nb:, nb:] - formats.FP16.round(L21).astype(np.float32) @ formats.FP16.round(U12).astype(np.float32)
    lu2, ip2, _ = lapack.sgetrf(np.asfortranarray(W22.astype(np.float32)))
    np.testing.assert_array_equal(piv, np.concatenate([ip1, ip2 + nb]))
    np.testing.assert_allclose(W[nb:, nb:], lu2, rtol=0, atol=1e-5)
    np.testing.assert_allclose(W[:nb, nb:], U12, rtol=0, atol=1e-6)
    # and the product is not what an unrounded fp32 update would give
    W22_fp32 = B[nb:, nb:] - L21 @ U12
    assert np.abs(W22_fp32 - W22).max() > 1e-4


@pytest.mark.parametrize("prec", [formats.TF32, formats.BF16, formats.FP16])
def test_low_precision_lu_backward_error(prec):
    rng = np.random.default_rng(2)
    n = 200
    A = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    W = np.asfortranarray(prec.round(A))
    piv = blocked_lu(W, prec, block_size=48)
    rel = np.abs(reconstruct(W, piv) - A).max() / np.abs(A).max()
    assert rel < 40 * n ** 0.5 * prec.unit_roundoff     # a backward error of the format's size ...
    assert rel > 0.01 * prec.unit_roundoff               # ... and not of fp32's


def test_zero_pivot_and_overflow_raise():
    A = np.asfortranarray(np.ones((40, 40), dtype=np.float32))
    with pytest.raises(LUFailure, match="zero pivot") as err:
        blocked_lu(A, formats.FP16, block_size=16)
    assert err.value.singular
    rng = np.random.default_rng(3)
    B = rng.standard_normal((40, 40))
    B[:20, 20:] *= 1e5            # U12 = L11^-1 W12 has entries beyond fp16's 65504
    W = np.asfortranarray(formats.FP16.round(B / 1e5) * np.float32(1e5))
    with pytest.raises(LUFailure, match="overflow .* panel") as err:
        blocked_lu(W, formats.FP16, block_size=20)
    assert not err.value.singular
    C = np.asfortranarray(formats.TF32.round(np.array([[1.0, 0, -3e38], [1, 1, 3e38], [0, 0, 1]])))
    with pytest.raises(LUFailure, match="overflow .* row block"):     # U12 = 3e38 + 3e38 = inf in fp32
        blocked_lu(C, formats.TF32, block_size=2)


def test_squeezing_precision_scales_the_update_operands_into_range():
    from hpcmix.dense.squeeze import operand_scale, squeeze
    A = dense.randsvd(300, 1e2, 2, seed=2)
    W = np.asfortranarray(formats.FP16.round(squeeze(A, 65504.0)[0]).T)    # max entry 0.1 * 65504
    with pytest.raises(LUFailure, match="overflow"):         # growth pushes U12 past 65504 ...
        blocked_lu(W.copy(order="F"), formats.FP16, block_size=64)
    piv = blocked_lu(W, formats.FP16_SCALED, block_size=64)  # ... unless it is scaled back into range
    assert np.isfinite(W).all() and len(piv) == 300
    assert operand_scale(np.array([[3e5, -1.0]]), 65504.0) == 32.0   # 3e5 / 32 in (6550, 13101]
    assert operand_scale(np.array([[1e-3]]), 65504.0) == 2.0**-23 and operand_scale(np.zeros((2, 0)), 1.0) == 1.0


def test_blocked_lu_needs_fortran_order():
    with pytest.raises(ValueError):
        blocked_lu(np.ones((4, 4), dtype=np.float32), formats.FP16)


def test_factorization_object_solves_and_codes():
    rng = np.random.default_rng(4)
    n = 120
    A = rng.standard_normal((n, n))
    b = rng.standard_normal((n, 2))
    x = np.linalg.solve(A, b)
    sqrt_cond = np.linalg.cond(A) ** 0.5
    for prec in formats.BUILTIN:
        lu = LowPrecisionLU(A, prec, block_size=32)
        assert lu.ok and set(lu.times) == {"convert", "factorization"}
        for z in (lu.solve_low(b), lu.solve64(b)):
            assert np.abs(z - x).max() / np.abs(x).max() < 1e3 * prec.unit_roundoff * sqrt_cond
        zc = lu.solve64(b[:, 0] + 1j * b[:, 1])        # complex right-hand side, real factors
        np.testing.assert_allclose(zc, lu.solve64(b[:, 0]) + 1j * lu.solve64(b[:, 1]))
    A[3, 7] = 1e39
    assert LowPrecisionLU(A, formats.FP32).code == CONVERSION_OVERFLOW
    assert LowPrecisionLU(A, formats.BF16).code == CONVERSION_OVERFLOW
    assert LowPrecisionLU(A / 1e34, formats.FP16).code == CONVERSION_OVERFLOW
    assert LowPrecisionLU(A / 1e34, formats.FP16_SCALED).ok
    assert LowPrecisionLU(np.zeros((5, 5)), formats.FP32).code == FACTORIZATION_FAILURE
    # the LU is of A^T = [[1, 3e38], [1, -3e38]]: U22 = -6e38, inf in fp32
    grown = LowPrecisionLU(np.array([[1.0, 1.0], [3e38, -3e38]]), formats.FP32)
    assert grown.code == FACTORIZATION_FAILURE and "overflow" in grown.reason and not grown.singular
    wide = np.full((100, 100), 500.0) + 50000 * np.eye(100)   # ||A|| > 65504 but every entry fits fp16
    assert LowPrecisionLU(wide, formats.FP16).ok
    tiny = LowPrecisionLU(np.diag([1.0, 1e-40]), formats.FP32)   # a subnormal pivot: the solve overflows
    assert tiny.ok
    with pytest.raises(RefinementOverflow):
        tiny.solve_low(np.array([0.0, 1.0]))


def test_fp64_factorization_leaves_the_matrix_alone():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((30, 30))
    keep = A.copy()
    LowPrecisionLU(A, formats.FP64)
    np.testing.assert_array_equal(A, keep)


def test_backend_is_a_backend_object():
    """The device comes from a Backend object (the run's); there is no string seam of the dense package's own."""
    assert type(as_backend(None)) is NumpyBackend
    numba_or_numpy = NumbaBackend() if NumbaBackend.available()[0] else NumpyBackend()
    assert as_backend(numba_or_numpy) is numba_or_numpy
    assert type(numba_or_numpy.dense_kernels()) is HostKernels
    for old in ("numpy", "cupy", "auto"):
        with pytest.raises(TypeError, match="backend must be a hpcmix Backend object"):
            LowPrecisionLU(np.eye(3), formats.FP32, backend=old)
