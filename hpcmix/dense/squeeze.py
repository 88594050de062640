"""Squeezing a matrix into a narrow format (Higham, Pranesh and Zounon, "Squeezing a matrix into half
precision, with an application to solving linear systems", SIAM J. Sci. Comput. 41 (2019)).

Two-sided diagonal equilibration followed by a scalar scaling into the format's range:
    A' = mu R A S,   R = diag(r), S = diag(s),
with r_i = 1 / max_j |a_ij| (rows first) and s_j = 1 / max_i |r_i a_ij| (then columns), so every row
and column of R A S has largest entry about 1, and mu = theta x_max / max |R A S| (theta = 0.1 leaves
room for growth in the factorization). Every factor is a power of two, so the scaling is exact in
float64 and adds no rounding error of its own. Then A = mu^-1 R^-1 A' S^-1 and
    A^-1 b = S A'^-1 (mu R b).
Growth during the LU can still push the entries of U past the format's range, so the blocked LU
scales each trailing update's U12 operand the same way (:func:`operand_scale`): W22 -= s rnd(L21)
rnd(U12 / s), with s a power of two, exact in fp32 (a GEMM's alpha on a GPU).
"""

import numpy as np

from .norms import row_blocks

#: Fraction of the format's largest finite value that the scaled matrix's largest entry is set to.
THETA = 0.1


def _pow2_inverse(m, xp=np):
    """2^round(-log2 m) for m > 0, 1 where m is 0 (an all-zero row or column stays as it is); the
    exponent is capped at 1023 so that a subnormal m gives the largest finite power of two, not inf
    (the column scaling and mu then bring such a row the rest of the way). Functions of the module ``xp``."""
    nz = m > 0
    return xp.where(nz, xp.exp2(xp.minimum(-xp.rint(xp.log2(xp.where(nz, m, 1.0))), 1023.0)), 1.0)


def scalings(A, max_value, theta=THETA, xp=np):
    """(r, s, mu) of A' = mu diag(r) A diag(s) (see the module doc) for the float64/complex128 matrix A of the array
    module ``xp`` (numpy, or cupy on a GPU): r and s arrays there, mu a float; three blocked passes over A there, in
    float64 (the moduli of complex entries)."""
    n_rows, n_cols = A.shape
    blocks = row_blocks(n_rows, n_cols)
    r = xp.concatenate([abs(A[i:j]).max(axis=1) for i, j in blocks]) if n_cols else xp.zeros(n_rows)
    r = _pow2_inverse(r, xp)
    colmax = xp.zeros(n_cols)
    for i, j in blocks:
        colmax = xp.maximum(colmax, (abs(A[i:j]) * r[i:j, None]).max(axis=0))
    s = _pow2_inverse(colmax, xp)
    beta = max((float((abs(A[i:j]) * r[i:j, None] * s[None, :]).max()) for i, j in blocks), default=1.0) \
        if A.size else 1.0
    mu = float(np.exp2(np.floor(np.log2(theta * max_value / beta)))) if beta > 0 else 1.0
    return r, s, mu


def apply(A, r, s, mu):
    """mu diag(r) A diag(s) (rows of A with the matching entries of r: a block of rows at a time)."""
    return mu * (r[:, None] * A * s[None, :])     # mu last: mu * r may not be finite


def squeeze(A, max_value, theta=THETA):
    """Return (A', r, s, mu) with A' = mu diag(r) A diag(s) in float64/complex128 (see the module doc), on the host."""
    r, s, mu = scalings(A, max_value, theta)
    return apply(A, r, s, mu), r, s, mu


def operand_scale(U, max_value, theta=THETA):
    """The power of two s that brings max |U| into (theta x_max, 2 theta x_max] (1 for U = 0)."""
    m = float(abs(U).max()) if U.size else 0.0
    if m == 0.0 or not np.isfinite(m):
        return 1.0
    return float(np.exp2(np.floor(np.log2(m / (theta * max_value)))))
