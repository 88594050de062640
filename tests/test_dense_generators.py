"""Test-matrix generators: singular values, orthogonality, HPL-MxP structure, reproducibility."""

import numpy as np
import pytest

from hpcmix import dense
from hpcmix.dense.generators import haar, singular_values
from hpcmix.errors import HpcmixError


@pytest.mark.parametrize("mode", [1, 2, 3, 4])
def test_randsvd_has_the_requested_singular_values(mode):
    n, cond = 60, 1e6
    A = dense.randsvd(n, cond, mode, seed=mode)
    s = np.linalg.svd(A, compute_uv=False)
    want = np.sort(singular_values(n, cond, mode, None))[::-1]
    np.testing.assert_allclose(s, want, rtol=1e-8, atol=1e-15)
    assert np.isclose(s[0] / s[-1], cond, rtol=1e-6)


def test_singular_value_modes_follow_dlatm1():
    n, c = 5, 1e4
    np.testing.assert_allclose(singular_values(n, c, 1, None), [1, 1e-4, 1e-4, 1e-4, 1e-4])
    np.testing.assert_allclose(singular_values(n, c, 2, None), [1, 1, 1, 1, 1e-4])
    np.testing.assert_allclose(singular_values(n, c, 3, None), [1, 1e-1, 1e-2, 1e-3, 1e-4])
    np.testing.assert_allclose(singular_values(n, c, 4, None), 1 - np.arange(5) / 4 * (1 - 1e-4))
    s5 = singular_values(1000, c, 5, np.random.default_rng(0))
    assert s5.min() >= 1e-4 and s5.max() <= 1
    hist, _ = np.histogram(np.log10(s5), bins=4, range=(-4, 0))
    assert hist.min() > 200                    # log-uniform
    assert singular_values(1, c, 3, None).tolist() == [1.0]


def test_randsvd_complex_scale_and_seed():
    A = dense.randsvd(40, 1e3, 3, seed=1, complex=True, scale=1e4)
    assert A.dtype == np.complex128
    s = np.linalg.svd(A, compute_uv=False)
    np.testing.assert_allclose([s[0], s[-1]], [1e4, 10.0], rtol=1e-8)
    np.testing.assert_array_equal(A, dense.randsvd(40, 1e3, 3, seed=1, complex=True, scale=1e4))
    assert not np.array_equal(A, dense.randsvd(40, 1e3, 3, seed=2, complex=True, scale=1e4))
    Q = haar(30, np.random.default_rng(0), True)
    np.testing.assert_allclose(Q.conj().T @ Q, np.eye(30), atol=1e-13)


def test_randsvd_rejects_bad_arguments():
    with pytest.raises(HpcmixError, match="mode"):
        dense.randsvd(10, 1e3, 6)
    with pytest.raises(HpcmixError, match="cond"):
        dense.randsvd(10, 0.5)


def test_hpl_mxp_matrix():
    """Strictly dominant: each diagonal entry exceeds its row's off-diagonal sum by |its own draw|
    (<= 0.5); nonsingular down to n = 1 and 2, where weak dominance is not."""
    A = dense.hpl_mxp(50, seed=3)
    off = A - np.diag(np.diag(A))
    excess = np.diag(A) - np.abs(off).sum(axis=1)
    assert (excess > 0).all() and (excess <= 0.5).all()
    assert np.abs(off).max() <= 0.5
    np.testing.assert_array_equal(A, dense.hpl_mxp(50, seed=3))
    Ac = dense.hpl_mxp(20, seed=3, complex=True, scale=2.0)
    assert Ac.dtype == np.complex128 and (np.diag(Ac).imag == 0).all()
    assert (np.diag(Ac).real > np.abs(Ac - np.diag(np.diag(Ac))).sum(axis=1)).all()
    assert dense.hpl_mxp(1, seed=0)[0, 0] > 0
    assert all(abs(np.linalg.det(dense.hpl_mxp(2, seed=s))) > 0 for s in range(50))


def test_badly_scaled_and_rhs():
    A = dense.badly_scaled(80, cond=1e2, decades=3, seed=4)
    mags = np.log10(np.abs(A[A != 0]))
    assert mags.max() - mags.min() > 8
    assert dense.random_rhs(7).shape == (7,)
    B = dense.random_rhs(7, nrhs=3, seed=1, complex=True)
    assert B.shape == (7, 3) and B.dtype == np.complex128 and np.abs(B.real).max() <= 0.5
