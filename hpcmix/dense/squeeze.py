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

#: Fraction of the format's largest finite value that the scaled matrix's largest entry is set to.
THETA = 0.1


def _pow2_inverse(m):
    """2^round(-log2 m) for m > 0, 1 where m is 0 (an all-zero row or column stays as it is); the
    exponent is capped at 1023 so that a subnormal m gives the largest finite power of two, not inf
    (the column scaling and mu then bring such a row the rest of the way)."""
    out = np.ones_like(m)
    nz = m > 0
    out[nz] = np.exp2(np.minimum(-np.round(np.log2(m[nz])), 1023.0))
    return out


def squeeze(A, max_value, theta=THETA):
    """Return (A', r, s, mu) with A' = mu diag(r) A diag(s) in float64/complex128 (see the module doc)."""
    absA = np.abs(A)
    r = _pow2_inverse(absA.max(axis=1))
    s = _pow2_inverse((absA * r[:, None]).max(axis=0))
    beta = float((absA * r[:, None] * s[None, :]).max()) if A.size else 1.0
    mu = float(np.exp2(np.floor(np.log2(theta * max_value / beta)))) if beta > 0 else 1.0
    return mu * (r[:, None] * A * s[None, :]), r, s, mu     # mu last: mu * r may not be finite


def operand_scale(U, max_value, theta=THETA):
    """The power of two s that brings max |U| into (theta x_max, 2 theta x_max] (1 for U = 0)."""
    m = float(abs(U).max()) if U.size else 0.0
    if m == 0.0 or not np.isfinite(m):
        return 1.0
    return float(np.exp2(np.floor(np.log2(m / (theta * max_value)))))
