"""Test matrices and right-hand sides (seeded, reproducible on every platform numpy runs on).

``randsvd``: A = U diag(sigma) V^H with Haar-distributed orthogonal (unitary) U and V (QR of a
Gaussian matrix with the signs/phases of R's diagonal divided out), and singular values from
LAPACK's DLATM1 modes, sigma_1 = 1 and condition number ``cond`` (2-norm):
  mode 1: sigma = (1, 1/cond, ..., 1/cond)            one large singular value
  mode 2: sigma = (1, ..., 1, 1/cond)                 one small singular value
  mode 3: sigma_i = cond^(-(i-1)/(n-1))               geometric
  mode 4: sigma_i = 1 - (i-1)/(n-1) (1 - 1/cond)       arithmetic
  mode 5: log sigma_i uniform in [-log cond, 0]       random (the extremes are not pinned, as in DLATM1)
``hpl_mxp``: HPL-MxP's matrix: entries uniform in [-0.5, 0.5), then each diagonal entry replaced by
the sum of the absolute values of its row's entries, its own draw included (as the HPL-MxP
reference generator does): strictly diagonally dominant, so nonsingular for every n (n = 1 too) and
LU needs no pivoting. HPL-MxP draws from its own LCG; this uses numpy's PCG64 with the same distribution.
``badly_scaled``: diag(10^a) randsvd(cond) diag(10^c) with a_i, c_j uniform in [-decades, decades]:
entries spread over 4 decades + log10(cond) orders of magnitude, the case that equilibration is for.
Every generator takes ``scale`` (a factor applied last) and ``complex`` (complex Gaussian inputs,
unitary U, V; hpl_mxp draws real and imaginary parts).
"""

import numpy as np

from ..errors import HpcmixError

MODES = (1, 2, 3, 4, 5)


def singular_values(n, cond, mode, rng):
    """The n singular values of DLATM1 ``mode`` (1-5) with sigma_max = 1 and condition number ``cond``."""
    if cond < 1:
        raise HpcmixError(f"randsvd: cond must be >= 1, got {cond}")
    if mode not in MODES:
        raise HpcmixError(f"randsvd: mode must be one of {MODES}, got {mode}")
    i = np.arange(n)
    t = i / (n - 1) if n > 1 else np.zeros(1)
    if mode == 1:
        return np.where(i == 0, 1.0, 1.0 / cond)
    if mode == 2:
        return np.where(i == n - 1, 1.0 / cond, 1.0) if n > 1 else np.ones(1)
    if mode == 3:
        return cond ** -t
    if mode == 4:
        return 1.0 - t * (1.0 - 1.0 / cond)
    return np.exp(-rng.uniform(0.0, np.log(cond), n))


def haar(n, rng, complex_=False):
    """A Haar-distributed orthogonal (unitary if ``complex_``) n x n matrix."""
    G = rng.standard_normal((n, n))
    if complex_:
        G = (G + 1j * rng.standard_normal((n, n))) / np.sqrt(2)
    Q, R = np.linalg.qr(G)
    d = np.diagonal(R)
    return Q * (d / np.abs(d))[None, :]


def randsvd(n, cond, mode=3, seed=0, complex=False, scale=1.0):
    """A randsvd matrix (see the module doc)."""
    rng = np.random.default_rng(seed)
    sigma = singular_values(n, cond, mode, rng)
    U, V = haar(n, rng, complex), haar(n, rng, complex)
    return scale * ((U * sigma[None, :]) @ V.conj().T)


def hpl_mxp(n, seed=0, complex=False, scale=1.0):
    """HPL-MxP's diagonally dominant matrix (see the module doc)."""
    rng = np.random.default_rng(seed)
    A = rng.uniform(-0.5, 0.5, (n, n))
    if complex:
        A = A + 1j * rng.uniform(-0.5, 0.5, (n, n))
    np.fill_diagonal(A, np.abs(A).sum(axis=1))
    return scale * A


def badly_scaled(n, cond=1e3, decades=2.0, seed=0, complex=False, scale=1.0, mode=3):
    """A two-sided badly scaled randsvd matrix (see the module doc)."""
    rng = np.random.default_rng([seed, 1])
    rows = 10.0 ** rng.uniform(-decades, decades, n)
    cols = 10.0 ** rng.uniform(-decades, decades, n)
    return rows[:, None] * randsvd(n, cond, mode, seed, complex, scale) * cols[None, :]


def random_rhs(n, nrhs=1, seed=0, complex=False, scale=1.0):
    """Right-hand sides uniform in [-0.5, 0.5) (HPL-MxP's b), shape (n,) for one, else (n, nrhs)."""
    rng = np.random.default_rng([seed, 2])
    shape = (n,) if nrhs == 1 else (n, nrhs)
    B = rng.uniform(-0.5, 0.5, shape)
    if complex:
        B = B + 1j * rng.uniform(-0.5, 0.5, shape)
    return scale * B


#: Matrix generators by the name a deck uses (``matrix = {generator = NAME, ...}``).
GENERATORS = {"randsvd": randsvd, "hpl_mxp": hpl_mxp, "badly_scaled": badly_scaled}
