"""The DeGrand-Rossi gamma basis: Clifford algebra, hermiticity, gamma5."""

import numpy as np

from hpcmix.operators.gamma import GAMMA, GAMMA5, apply_gamma5, sigma


def test_clifford_algebra_and_hermiticity():
    for mu in range(4):
        assert np.allclose(GAMMA[mu], GAMMA[mu].conj().T)
        for nu in range(4):
            anti = GAMMA[mu] @ GAMMA[nu] + GAMMA[nu] @ GAMMA[mu]
            assert np.allclose(anti, 2 * (mu == nu) * np.eye(4))


def test_gamma5_is_diagonal_in_degrand_rossi_basis():
    assert np.allclose(GAMMA5, np.diag([1, 1, -1, -1]))
    psi = np.arange(24.0).reshape(2, 4, 3) + 0j
    assert np.allclose(apply_gamma5(psi), np.einsum("st,ntc->nsc", GAMMA5, psi))


def test_sigma_hermitian_and_commutes_with_gamma5():
    for mu in range(4):
        for nu in range(4):
            s = sigma(mu, nu)
            assert np.allclose(s, s.conj().T)
            assert np.allclose(s @ GAMMA5, GAMMA5 @ s)
