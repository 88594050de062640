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


#: Rows of a matrix per block in the blocked passes over it (about 2^24 entries a block): a pass's temporaries stay
#: small (128 MB of float64 at n = 32768, on the host or on a GPU) whatever the size of the matrix; row sums and maxima
#: do not depend on the blocking, so it changes no number.
BLOCK_ENTRIES = 1 << 24


def row_blocks(n_rows, n_cols):
    """The (start, stop) row ranges of the blocked passes over an n_rows x n_cols matrix."""
    step = max(1, BLOCK_ENTRIES // max(1, n_cols))
    return [(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def inf_norm(A):
    """||A||_inf = max_i sum_j |a_ij| of a float64/complex128 matrix: LAPACK ?lange (one pass) for a C-ordered numpy
    array (else numpy's row sums); for an array of another module (cupy on a GPU) float64 row sums in that module, a
    block of rows at a time, with one number per block brought back (NaN if A has a NaN)."""
    if A.size == 0:
        return 0.0
    lange = _lange.get(A.dtype)
    if type(A) is np.ndarray:
        if lange is not None and A.flags.c_contiguous:
            return float(lange("1", A.T))      # ||A||_inf = ||A^T||_1, and A^T is Fortran-ordered
        return float(np.abs(A).sum(axis=1).max())
    return float(np.max([float(abs(A[i:j]).sum(axis=1).max()) for i, j in row_blocks(*A.shape)]))


def max_abs_part(A):
    """The largest |Re a_ij| and |Im a_ij| of the non-empty matrix A (numpy or cupy), a block of rows at a time."""
    parts = (A.real, A.imag) if A.dtype.kind == "c" else (A,)
    return float(np.max([float(abs(P[i:j]).max()) for P in parts for i, j in row_blocks(*A.shape)]))


def column_inf_norms(X):
    """max_i |x_ij| for every column j of the n x k block X (n >= 1: an array of X's module, numpy or cupy;
    n = 0: zeros on the host)."""
    return abs(X).max(axis=0) if X.shape[0] else np.zeros(X.shape[1])


def hpl_ratios(rn, xn, bn, normA, n):
    """HPL-MxP's scaled residual of every column of an n x k system, given the column infinity norms ``rn``,
    ``xn``, ``bn`` (host arrays, :func:`column_inf_norms`) of R = B - A X, X and B."""
    denom = (normA * xn + bn) * n * EPS
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rn == 0, 0.0, rn / denom)


def hpl_mxp_ratio(A, X, B):
    """The largest HPL-MxP scaled residual over the columns of X (vectors are one column); <= 16 passes."""
    A = np.asarray(A)
    X2 = np.asarray(X).reshape(A.shape[0], -1)
    B2 = np.asarray(B).reshape(A.shape[0], -1)
    wide = np.result_type(A, X2, B2, np.float64)
    A, X2, B2 = (np.ascontiguousarray(M, dtype=wide) for M in (A, X2, B2))
    ratios = hpl_ratios(column_inf_norms(B2 - A @ X2), column_inf_norms(X2), column_inf_norms(B2), inf_norm(A),
                        A.shape[0])
    return float(ratios.max(initial=0.0))
