"""Dense mixed-precision solves: accuracy (HPL-MxP rule, scipy's solution), the reach of each
factorization precision and refinement, every failure code, fallback, reuse, and input errors."""

import math

import numpy as np
import pytest
import scipy.linalg

from hpcmix import dense
from hpcmix.dense import (CONVERSION_OVERFLOW, FACTORIZATION_FAILURE, NO_CONVERGENCE, REFINEMENT_OVERFLOW,
                          SUCCESS, DenseFactorization, SingularMatrixError, hpl_mxp_ratio, solve)
from hpcmix.dense.norms import EPS
from hpcmix.errors import HpcmixError, SolverError

N = 160
PRECISIONS = ["fp32", "tf32", "bf16", "fp16", "fp16-scaled"]
METHODS = ["classical", "gmres", "classical_gmres"]


def check_solution(A, B, res, cond=None):
    """The result's claims, recomputed independently: the tolerance test it says it passed, the
    HPL-MxP rule, its own backward error, and agreement with scipy's solution."""
    X = res.x.reshape(A.shape[0], -1)
    B2 = B.reshape(A.shape[0], -1)
    R = B2 - A @ X
    normA = np.abs(A).sum(axis=1).max()
    if res.converged:
        assert np.all(np.abs(R).max(axis=0) <= res.tol * normA * np.abs(X).max(axis=0))
    ratio = hpl_mxp_ratio(A, res.x, B)
    assert ratio <= dense.HPL_THRESHOLD
    assert math.isclose(ratio, res.backward_error, rel_tol=1e-6, abs_tol=1e-12)
    if cond is not None:
        X_ref = scipy.linalg.solve(A, B2)
        assert np.abs(X - X_ref).max() / np.abs(X_ref).max() <= max(cond, 10) * 1e-13


@pytest.fixture(scope="module")
def rhs():
    return dense.random_rhs(N, seed=5)


@pytest.mark.parametrize("mode", [2, 3, 4])
def test_fp32_classical_converges_to_cond_1e6(mode, rhs):
    A = dense.randsvd(N, 1e6, mode, seed=mode)
    res = solve(A, rhs, "fp32", "classical")
    assert res.code == SUCCESS and res.converged and not res.fell_back
    assert 1 <= res.niters <= 10
    check_solution(A, rhs, res, cond=1e6)


@pytest.mark.parametrize("cond", [1e10, 1e12])
@pytest.mark.parametrize("mode", [2, 4])
def test_fp32_gmres_ir_converges_far_beyond_classical(cond, mode, rhs):
    A = dense.randsvd(N, cond, mode, seed=11)
    classical = solve(A, rhs, "fp32", "classical", fallback=False)
    assert classical.code == NO_CONVERGENCE and not classical.converged
    for method in ("gmres", "classical_gmres"):
        res = solve(A, rhs, "fp32", method)
        assert res.code == SUCCESS and res.converged and not res.fell_back, (method, res.reason)
        check_solution(A, rhs, res, cond=cond)


@pytest.mark.parametrize("mode", [1, 3, 5])
def test_fp32_gmres_ir_at_cond_1e10_with_a_krylov_budget_of_order_n(mode, rhs):
    """Modes 1, 3 and 5 at 1e10 put most singular values below what fp32 resolves, so the LU
    preconditions little and GMRES needs of order n steps: within the default budget (50) the solve
    falls back with -50; with 3n steps it converges, still without the float64 LU."""
    A = dense.randsvd(N, 1e10, mode, seed=11)
    default = solve(A, rhs, "fp32", "gmres")
    assert default.code == NO_CONVERGENCE and default.fell_back and default.converged
    res = solve(A, rhs, "fp32", "gmres", max_iters=3 * N, max_inner=N, fallback=False)
    assert res.code == SUCCESS and res.converged and not res.fell_back, res.reason
    assert 50 < res.niters <= 3 * N
    check_solution(A, rhs, res, cond=1e10)


@pytest.mark.parametrize("prec", PRECISIONS)
@pytest.mark.parametrize("method", METHODS)
def test_every_precision_and_method_on_an_hpl_mxp_matrix(prec, method):
    A = dense.hpl_mxp(N, seed=1)
    b = dense.random_rhs(N, seed=1)
    res = solve(A, b, prec, method, block_size=48)
    assert res.code == SUCCESS and not res.fell_back and res.converged
    assert res.history[-1] == res.backward_error and len(res.history) == res.outer_niters + 1
    assert set(res.times) == {"convert", "factorization", "refinement"}
    check_solution(A, b, res, cond=1e2)


@pytest.mark.parametrize("prec", ["tf32", "bf16", "fp16"])
def test_half_precisions_reach_cond_1e8_with_gmres(prec, rhs):
    A = dense.randsvd(N, 1e8, 2, seed=3)
    res = solve(A, rhs, prec, "gmres", block_size=64)
    assert res.code == SUCCESS and not res.fell_back
    check_solution(A, rhs, res, cond=1e8)


def test_fp16_scaled_handles_entries_that_overflow_fp16(rhs):
    A = dense.randsvd(N, 1e4, 2, seed=4, scale=1e7)           # entries ~1e6 > 65504
    plain = solve(A, rhs, "fp16", "gmres")
    assert plain.code == CONVERSION_OVERFLOW and plain.fell_back and plain.converged
    assert "exceeds the largest fp16" in plain.reason and plain.niters == 0
    check_solution(A, rhs, plain)
    scaled = solve(A, rhs, "fp16-scaled", "gmres")
    assert scaled.code == SUCCESS and not scaled.fell_back
    check_solution(A, rhs, scaled, cond=1e4)
    B = dense.badly_scaled(N, cond=1e3, decades=2, seed=2, scale=1e3)
    assert np.abs(B).max() > 65504
    res = solve(B, rhs, "fp16-scaled", "gmres")
    assert res.code == SUCCESS and not res.fell_back
    check_solution(B, rhs, res)


def test_conversion_overflow_fp32(rhs):
    A = dense.hpl_mxp(N, seed=2)
    A[5, 9] = 3e38 * 10
    res = solve(A, rhs, "fp32")
    assert res.code == CONVERSION_OVERFLOW and res.fell_back and res.converged
    check_solution(A, rhs, res)
    off = solve(A, rhs, "fp32", fallback=False)
    assert off.code == CONVERSION_OVERFLOW and off.x is None and not off.converged
    assert off.backward_error == math.inf and off.history == []


def test_factorization_failure_singular_in_fp16_only():
    rng = np.random.default_rng(8)
    A = np.eye(50)
    A[:2, :2] = [[1.0, 2.0], [2.0, 4.0 + 1e-6]]     # nonsingular; singular once 4 + 1e-6 rounds to 4
    b = rng.standard_normal(50)
    res = solve(A, b, "fp16", "classical")
    assert res.code == FACTORIZATION_FAILURE and res.fell_back and "zero pivot" in res.reason
    check_solution(A, b, res)
    off = solve(A, b, "fp16", fallback=False)
    assert off.code == FACTORIZATION_FAILURE and off.x is None and not off.converged


def test_overflow_during_refinement():
    A = np.diag([1.0, 1e-40, 2.0])               # fp32 keeps the subnormal pivot; the solve overflows
    b = np.array([1.0, 1.0, 1.0])
    res = solve(A, b, "fp32")
    assert res.code == REFINEMENT_OVERFLOW and res.fell_back and res.converged
    np.testing.assert_allclose(res.x, [1.0, 1e40, 0.5])
    off = solve(A, b, "fp32", fallback=False)
    assert off.code == REFINEMENT_OVERFLOW and off.x is None


def test_a_solution_beyond_float64_is_reported_not_converged():
    A = np.diag([1e-10, 1.0])
    res = solve(A, np.array([1e300, 1.0]), "fp32")        # x = 1e310 overflows float64
    assert res.code == REFINEMENT_OVERFLOW and res.fell_back and not res.converged and res.x is None
    assert "fell back to the float64 LU (inf or NaN" in res.reason


def test_no_convergence_without_fallback_keeps_the_best_iterate(rhs):
    A = dense.randsvd(N, 1e9, 3, seed=6)
    res = solve(A, rhs, "fp16", "classical", fallback=False)
    assert res.code == NO_CONVERGENCE and not res.converged and not res.fell_back
    assert "stagnated" in res.reason
    assert res.backward_error == min(res.history)
    assert math.isclose(res.backward_error, hpl_mxp_ratio(A, res.x, rhs), rel_tol=1e-9)
    limited = solve(A, rhs, "fp32", "gmres", fallback=False, max_iters=3)
    assert limited.code == NO_CONVERGENCE and limited.niters == 3 and "3 iterations" in limited.reason
    fell = solve(A, rhs, "fp16", "classical")
    assert fell.code == NO_CONVERGENCE and fell.fell_back and fell.converged
    check_solution(A, rhs, fell)


def test_fp64_factorization_and_singular_matrices(rhs):
    A = dense.randsvd(N, 1e12, 3, seed=7)
    res = solve(A, rhs, "fp64")
    assert res.code == SUCCESS and res.niters <= 2
    check_solution(A, rhs, res, cond=1e12)
    S = dense.hpl_mxp(N, seed=3)
    S[7] = 0.0
    with pytest.raises(SingularMatrixError, match="zero pivot"):
        solve(S, rhs, "fp32")
    with pytest.raises(SingularMatrixError):
        solve(S, rhs, "fp64")
    off = solve(S, rhs, "fp32", fallback=False)
    assert off.code == FACTORIZATION_FAILURE and off.x is None
    assert issubclass(SingularMatrixError, SolverError)


@pytest.mark.parametrize("method", METHODS)
def test_multiple_and_complex_right_hand_sides(method):
    rng = np.random.default_rng(9)
    A = dense.randsvd(N, 1e5, 2, seed=9)
    B = rng.standard_normal((N, 3))
    res = solve(A, B, "fp32", method)
    assert res.x.shape == (N, 3) and res.code == SUCCESS
    check_solution(A, B, res, cond=1e5)
    Bc = B + 1j * rng.standard_normal((N, 3))
    A10 = dense.randsvd(N, 10, 2, seed=9)
    res = solve(A10, Bc, "bf16", method)          # real A, complex B
    assert res.x.dtype == np.complex128 and res.code == SUCCESS
    check_solution(A10, Bc, res, cond=10)
    Ac = dense.randsvd(N, 10, 2, seed=10, complex=True)
    res = solve(Ac, Bc[:, 0], "fp16-scaled", method)
    assert res.x.shape == (N,) and res.code == SUCCESS
    check_solution(Ac, Bc[:, 0], res, cond=10)


def test_zero_right_hand_side_column():
    A = dense.hpl_mxp(40, seed=4)
    B = np.zeros((40, 2))
    B[:, 1] = 1.0
    res = solve(A, B, "fp16")
    assert res.code == SUCCESS and np.all(res.x[:, 0] == 0)
    check_solution(A, B, res)


def test_reused_factorization_and_times():
    A = dense.randsvd(N, 1e9, 3, seed=12)
    f = DenseFactorization(A, "fp32")
    assert set(f.times) == {"convert", "factorization"}
    first = f.solve(dense.random_rhs(N, seed=1))
    second = f.solve(dense.random_rhs(N, seed=2))
    for res in (first, second):
        assert res.fell_back and res.converged and res.code == NO_CONVERGENCE
        assert "convert" not in res.times and "refinement" in res.times and "fallback" in res.times
    assert "fallback_factorization" in first.times
    assert f._lu64 is not None and second.times["fallback_factorization"] < first.times["fallback_factorization"]
    one = solve(A, dense.random_rhs(N, seed=1), "fp32")
    assert {"convert", "factorization", "refinement"} <= set(one.times)
    assert one.seconds == pytest.approx(sum(one.times.values()))
    report = one.report()
    assert report["fell_back"] and report["factorization_seconds"] == one.times["factorization"]


def test_tolerance_and_defaults(rhs):
    A = dense.randsvd(N, 1e4, 3, seed=13)
    f = DenseFactorization(A, "fp32")
    tight = f.solve(rhs)
    assert tight.tol == pytest.approx(math.sqrt(N) * EPS)
    loose = f.solve(rhs, tol=1e-6)
    assert loose.code == SUCCESS and loose.niters < tight.niters
    R = rhs - A @ loose.x
    assert np.abs(R).max() <= 1e-6 * np.abs(A).sum(axis=1).max() * np.abs(loose.x).max()


def test_input_errors(rhs):
    A = dense.hpl_mxp(N, seed=5)
    bad = A.copy()
    bad[3, 4] = np.nan
    with pytest.raises(HpcmixError, match=r"matrix contains NaN or Inf \(first at index \[3, 4\]\)"):
        solve(bad, rhs)
    bad[3, 4] = np.inf
    with pytest.raises(HpcmixError, match="NaN or Inf"):
        solve(bad, rhs)
    b = rhs.copy()
    b[2] = np.nan
    with pytest.raises(HpcmixError, match="right-hand side contains NaN"):
        solve(A, b)
    with pytest.raises(HpcmixError, match="square"):
        solve(A[:, :5], rhs)
    with pytest.raises(HpcmixError, match="shape"):
        solve(A, rhs[:5])
    with pytest.raises(HpcmixError, match="numeric"):
        solve(np.full((3, 3), "x"), rhs[:3])
    with pytest.raises(HpcmixError, match="unknown refinement"):
        solve(A, rhs, refinement="jacobi")
    with pytest.raises(HpcmixError, match="max_iters"):
        solve(A, rhs, max_inner=0)
    with pytest.raises(HpcmixError, match="overflows float64"):
        solve(np.full((3, 3), 1e308), np.ones(3))
    for kwargs, message in [({"tol": 0.0}, "tol must be a positive"), ({"tol": float("nan")}, "tol must be"),
                            ({"inner_tol": 0.0}, r"inner_tol must lie in \(0, 1\)"),
                            ({"block_size": 0}, "block_size must be >= 1")]:
        with pytest.raises(HpcmixError, match=message):
            solve(A, rhs, **kwargs)
    with pytest.raises(TypeError, match="backend must be a hpcmix Backend object"):
        solve(A, rhs, backend="gpu")
    with pytest.raises(HpcmixError, match="right-hand side must be numeric"):
        solve(np.eye(2), np.array(["1", "2"]))


@pytest.mark.parametrize("method", ["gmres", "classical_gmres"])
@pytest.mark.parametrize("a_scale, b_scale", [(1.0, 2.0**531), (1.0, 2.0**-531), (2.0**-664, 1.0), (2.0**997, 1.0)])
def test_gmres_is_scale_invariant(method, a_scale, b_scale):
    """Powers of two near 1e+-160, 1e-200, 1e300: every rounding is the same as at scale 1, so the solve
    must take the same steps to the scaled solution (GMRES's 2-norms of such residuals would
    over/underflow unscaled)."""
    A = dense.randsvd(64, 1e2, 3, seed=2)
    b = dense.random_rhs(64, seed=3)
    prec = "fp16-scaled" if a_scale != 1.0 else "fp32"
    ref = solve(A, b, prec, method, fallback=False)
    res = solve(A * a_scale, b * b_scale, prec, method, fallback=False)
    assert res.code == SUCCESS and res.converged and res.niters == ref.niters, res.reason
    np.testing.assert_allclose(res.x, ref.x * (b_scale / a_scale), rtol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_default_tolerance_is_attainable_for_tiny_systems(n):
    """sqrt(n) eps is below the residual of a correctly rounded 1 x 1 solution about a quarter of
    the time; the default max(sqrt(n), 2) eps is always met by the float64 LU."""
    rng = np.random.default_rng(n)
    for _ in range(200):
        A, b = rng.standard_normal((n, n)), rng.standard_normal(n)
        for prec in ("fp64", "fp32"):
            res = solve(A, b, prec)
            assert res.converged and res.tol == max(math.sqrt(n), 2.0) * EPS
            assert not res.fell_back or prec == "fp32"


def test_fp16_scaled_with_a_subnormal_row():
    """A row whose largest entry is subnormal: its power-of-two scale is capped at 2^1023 instead of
    becoming inf, and the solve converges without falling back."""
    A = dense.randsvd(32, 10, 3, seed=2)
    A[5] *= 1e-310
    b = np.ones(32)
    b[5] = 1e-310
    res = solve(A, b, "fp16-scaled", "gmres", fallback=False)
    assert res.code == SUCCESS and res.converged
    np.testing.assert_allclose(res.x, np.linalg.solve(A, b), rtol=1e-9)


def test_history_after_a_fallback_ends_with_the_returned_solution():
    A = dense.randsvd(8, 1e30, 3, seed=1)
    b = np.ones(8)
    res = solve(A, b, "fp32", "classical")
    assert res.fell_back and res.history[-1] == res.backward_error
    assert len(res.history) > res.outer_niters + 1


@pytest.mark.parametrize("factorization, method", [("fp32", "classical"), ("fp32", "gmres"), ("fp64", "classical")])
def test_singular_to_working_precision_is_reported_as_lapack_does(rhs, factorization, method):
    """Two equal columns: no exact zero pivot, condition ~1e16. As LAPACK's dgesvx (INFO = N+1), the
    reciprocal condition estimate falls below eps and the solve says so; it is never a plain success."""
    A = dense.hpl_mxp(N, seed=3)
    A[:, 7] = A[:, 11]
    res = solve(A, rhs, factorization, method)
    assert res.rcond < EPS and res.singular
    assert "singular to working precision" in res.reason
    good = solve(dense.randsvd(N, 1e6, 3, seed=7), rhs, "fp64")
    assert not good.singular and 1e-8 < good.rcond < 1e-4
