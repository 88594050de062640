"""Euclidean gamma matrices in the DeGrand-Rossi basis (as QUDA and Chroma).

gamma_mu for mu = 0, 1, 2, 3 = x, y, z, t are Hermitian with {g_mu, g_nu} = 2 delta_{mu nu};
gamma5 = g_x g_y g_z g_t = diag(1, 1, -1, -1) in this basis (tested in tests/test_gamma.py).
"""

import numpy as np

I = 1j
GAMMA = np.array([
    [[0, 0, 0, I], [0, 0, I, 0], [0, -I, 0, 0], [-I, 0, 0, 0]],   # g_x
    [[0, 0, 0, -1], [0, 0, 1, 0], [0, 1, 0, 0], [-1, 0, 0, 0]],   # g_y
    [[0, 0, I, 0], [0, 0, 0, -I], [-I, 0, 0, 0], [0, I, 0, 0]],   # g_z
    [[0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]],     # g_t
], dtype=np.complex128)
GAMMA5 = GAMMA[0] @ GAMMA[1] @ GAMMA[2] @ GAMMA[3]
IDENTITY = np.eye(4, dtype=np.complex128)
#: Spin projectors of the hopping term: P_minus[mu] = 1 - g_mu (forward), P_plus[mu] = 1 + g_mu.
P_MINUS = IDENTITY - GAMMA
P_PLUS = IDENTITY + GAMMA


def sigma(mu, nu):
    """sigma_{mu nu} = (i/2) [g_mu, g_nu] (Hermitian)."""
    return 0.5j * (GAMMA[mu] @ GAMMA[nu] - GAMMA[nu] @ GAMMA[mu])


def apply_spin(matrix, psi):
    """(matrix psi)[..., s, c] = sum_t matrix[s, t] psi[..., t, c]."""
    return np.matmul(matrix.astype(psi.dtype, copy=False), psi)


def apply_gamma5(psi):
    """gamma5 psi for psi[..., 4, 3]: flips the sign of spins 2 and 3 (DeGrand-Rossi)."""
    out = psi.copy()
    out[..., 2:, :] *= -1
    return out
