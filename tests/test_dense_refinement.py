"""The refinement loops and GMRES on their own, with stand-in preconditioners whose behaviour is
known exactly: slow steps, the classical-to-GMRES switch, stagnation, overflow."""

import numpy as np
import pytest

from hpcmix import dense
from hpcmix.dense.factorization import RefinementOverflow
from hpcmix.dense.lu import HostKernels
from hpcmix.dense.norms import EPS, inf_norm
from hpcmix.dense.refinement import _Checker, gmres, refine
from hpcmix.dense.result import NO_CONVERGENCE, REFINEMENT_OVERFLOW, SUCCESS

N = 40


class StandIn:
    """A fake LU on the host kernels: solve_low(R) = low @ R, solve64(R) = high @ R."""

    kernels = HostKernels()

    def __init__(self, low, high):
        self.low, self.high = low, high

    def solve_low(self, R):
        return self.low @ R

    def solve64(self, R):
        return self.high @ R


@pytest.fixture(scope="module")
def system():
    A = dense.randsvd(N, 10, 2, seed=1)
    return A, dense.random_rhs(N, nrhs=2, seed=1), np.linalg.inv(A)


def run(A, B, lu, method, **kw):
    opts = dict(tol=np.sqrt(N) * EPS, max_iters=50, max_inner=20, inner_tol=1e-4) | kw
    return refine(A, B, inf_norm(A), lu, method, **opts)


def test_exact_inverse_converges_at_once(system):
    A, B, Ainv = system
    for method in ("classical", "gmres", "classical_gmres"):
        out = run(A, B, StandIn(Ainv, Ainv), method)
        assert out.code == SUCCESS and out.niters <= 1 and len(out.history) == out.outer_niters + 1


def test_slow_classical_stagnates_and_classical_gmres_switches(system):
    A, B, Ainv = system
    P = np.zeros((N, N))
    P[0, 0] = 0.9
    lu = StandIn(Ainv @ (np.eye(N) - P), Ainv)     # the error A^-1 P r shrinks by only 0.9 per classical step
    out = run(A, B, lu, "classical")
    assert out.code == NO_CONVERGENCE and "classical refinement, 3 slow steps" in out.reason
    assert out.niters == out.outer_niters == 3
    out = run(A, B, lu, "classical_gmres")
    assert out.code == SUCCESS
    assert out.niters == 2                         # one slow classical step, then one GMRES step per column ...
    assert out.outer_niters == 2                   # ... made in one outer step for both columns


def test_useless_gmres_preconditioner_stagnates(system):
    A, B, Ainv = system
    J = np.kron(np.eye(N // 2), [[0.0, -1.0], [1.0, 0.0]])   # M^-1 A = J: one GMRES step makes no progress
    out = run(A, B, StandIn(0.5 * Ainv, J @ Ainv), "gmres", max_inner=1)
    assert out.code == NO_CONVERGENCE and "gmres refinement, 2 slow steps" in out.reason
    assert out.X is not None and out.history[0] == min(out.history)


def test_iteration_limit_and_overflow_keep_the_best_iterate(system):
    A, B, Ainv = system
    out = run(A, B, StandIn(0.9 * Ainv, Ainv), "classical", max_iters=1)
    assert out.code == NO_CONVERGENCE and out.reason == "no convergence in 1 iterations" and out.niters == 1
    first = {"done": False}

    class Blowup(StandIn):
        def solve_low(self, R):                     # a good first solve, then an overflowing correction
            if not first["done"]:
                first["done"] = True
                return 0.5 * Ainv @ R
            return np.full_like(R, np.inf)
    out = run(A, B, Blowup(None, None), "classical")
    assert out.code == REFINEMENT_OVERFLOW and "inf or NaN" in out.reason
    np.testing.assert_allclose(out.X, 0.5 * Ainv @ B)


def test_checker_rejects_non_finite_iterates(system):
    A, B, _ = system
    check = _Checker(A, B, inf_norm(A), 1e-15, HostKernels())
    X = np.zeros_like(B)
    X[0, 0] = np.inf
    with pytest.raises(RefinementOverflow):
        check(X)


def test_gmres_breakdown_and_zero_rhs():
    host = HostKernels()
    P = np.array([[0.0, 1.0], [1.0, 0.0]])       # H[0, 0] = 0: the rotation of a zero diagonal entry
    d, steps = gmres(P, lambda v: v, np.array([1.0, 0.0]), 5, 1e-14, host)
    np.testing.assert_allclose(d, [0.0, 1.0], atol=1e-15)
    assert steps == 2
    d, steps = gmres(np.eye(3), lambda v: v, np.arange(3.0), 5, 1e-14, host)   # lucky breakdown after one step
    np.testing.assert_allclose(d, np.arange(3.0))
    assert steps == 1
    d, steps = gmres(np.eye(3), lambda v: v, np.zeros(3), 5, 1e-14, host)
    assert steps == 0 and not d.any()
    rng = np.random.default_rng(0)
    Ac = np.eye(30) + 0.2 * (rng.standard_normal((30, 30)) + 1j * rng.standard_normal((30, 30)))
    r = rng.standard_normal(30) + 1j * rng.standard_normal(30)
    d, steps = gmres(Ac, lambda v: v, r, 30, 1e-12, host)
    assert np.linalg.norm(Ac @ d - r) <= 1e-11 * np.linalg.norm(r) and steps <= 30


def test_unknown_method(system):
    A, B, Ainv = system
    with pytest.raises(ValueError):
        run(A, B, StandIn(Ainv, Ainv), "richardson")
