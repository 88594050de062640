"""SU(3) helpers on stacks of 3x3 complex matrices (last two axes)."""

import numpy as np


def dagger(u):
    return np.conj(np.swapaxes(u, -1, -2))


def random_su3(rng, shape):
    """Haar-random SU(3) matrices: QR of a complex Gaussian with the phases of R's diagonal fixed,
    then the determinant divided out by its cube root."""
    z = (rng.standard_normal(shape + (3, 3)) + 1j * rng.standard_normal(shape + (3, 3))) / np.sqrt(2)
    q, r = np.linalg.qr(z)
    d = np.diagonal(r, axis1=-2, axis2=-1)
    q = q * (d / np.abs(d))[..., None, :]
    det = np.linalg.det(q)
    return q / (det ** (1.0 / 3.0))[..., None, None]


def su3_exp_i(h):
    """exp(i H) for Hermitian H, through its eigen-decomposition (exactly unitary)."""
    w, v = np.linalg.eigh(h)
    return (v * np.exp(1j * w)[..., None, :]) @ dagger(v)


def random_hermitian_traceless(rng, shape):
    a = rng.standard_normal(shape + (3, 3)) + 1j * rng.standard_normal(shape + (3, 3))
    h = 0.5 * (a + dagger(a))
    tr = np.trace(h, axis1=-2, axis2=-1) / 3.0
    return h - tr[..., None, None] * np.eye(3)


def project_su3(u):
    """Nearest SU(3) matrix by polar decomposition and det phase removal."""
    w, _, vh = np.linalg.svd(u)
    q = w @ vh
    det = np.linalg.det(q)
    return q / (det ** (1.0 / 3.0))[..., None, None]


def reunitarize_check(u):
    """Max |U^dag U - 1| and max | |det U| - 1 | over the stack (for unitarity checks)."""
    eye = np.eye(3)
    dev = np.abs(dagger(u) @ u - eye).max(initial=0.0)
    det = np.abs(np.abs(np.linalg.det(u)) - 1).max(initial=0.0) if u.size else 0.0
    return float(dev), float(det)


def third_row(a, b):
    """conj(a x b): the third row of an SU(3) matrix from its first two rows."""
    return np.conj(np.cross(a, b))
