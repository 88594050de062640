"""Norms and backward errors, always accumulated in float64 (complex128 for complex data).

HPL-MxP's accuracy rule for a computed solution x of A x = b (n x n, infinity norms):
    ratio = ||A x - b|| / ((||A|| ||x|| + ||b||) n eps) <= 16,   eps = 2^-53
(HPL prints eps = 1.110223e-16). Infinity norms of complex arrays use the modulus of each entry,
as LAPACK's zlange does.
"""

import numpy as np
from scipy.linalg import lapack

#: float64 unit roundoff, LAPACK's dlamch('Epsilon') and HPL's eps.
EPS = 2.0 ** -53

#: HPL-MxP's threshold on the scaled residual.
HPL_THRESHOLD = 16.0

_lange = {np.dtype(np.float64): lapack.dlange, np.dtype(np.complex128): lapack.zlange}


def inf_norm(A):
    """||A||_inf = max_i sum_j |a_ij| of a float64/complex128 matrix (LAPACK ?lange, one pass over A)."""
    if A.size == 0:
        return 0.0
    lange = _lange.get(A.dtype)
    if lange is not None and A.flags.c_contiguous:
        return float(lange("1", A.T))          # ||A||_inf = ||A^T||_1, and A^T is Fortran-ordered
    return float(np.abs(A).sum(axis=1).max())


def column_inf_norms(X):
    """max_i |x_ij| for every column j of the n x k block X."""
    return np.abs(X).max(axis=0) if X.shape[0] else np.zeros(X.shape[1])


def hpl_ratios(R, X, B, normA):
    """HPL-MxP's scaled residual of every column, given the residual block R = B - A X."""
    n = X.shape[0]
    denom = (normA * column_inf_norms(X) + column_inf_norms(B)) * n * EPS
    num = column_inf_norms(R)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(num == 0, 0.0, num / denom)


def hpl_mxp_ratio(A, X, B):
    """The largest HPL-MxP scaled residual over the columns of X (vectors are one column); <= 16 passes."""
    A = np.asarray(A)
    X2 = np.asarray(X).reshape(A.shape[0], -1)
    B2 = np.asarray(B).reshape(A.shape[0], -1)
    wide = np.result_type(A, X2, B2, np.float64)
    A, X2, B2 = (np.ascontiguousarray(M, dtype=wide) for M in (A, X2, B2))
    return float(hpl_ratios(B2 - A @ X2, X2, B2, inf_norm(A)).max(initial=0.0))
