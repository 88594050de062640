"""Iterative refinement of A X = B to float64 accuracy with a low-precision LU M ~ A.

Every method starts from X0 = M^-1 B and repeats, for the columns not yet converged,
    R = B - A X (float64),  solve A D = R approximately,  X <- X + D.
A column has converged when ||r||_inf <= tol ||A||_inf ||x||_inf, tested on the float64 residual
of the current X (LAPACK DSGESV's test; default tol = max(sqrt(n), 2) eps); nothing else counts as convergence.

Correction solvers (cuSOLVER's IRS names in brackets):
  "classical" [CLASSICAL]: D = M^-1 R with the triangular solves in the factors' precision
      (DSGESV's scheme). Converges when u_f kappa(A) << 1.
  "gmres" [GMRES]: GMRES-IR (Carson and Higham, SIAM J. Sci. Comput. 40 (2018)): D from GMRES in
      float64 on the left-preconditioned system M^-1 A D = M^-1 R, started from D = 0 and stopped
      when its residual estimate falls by ``inner_tol`` or after ``max_inner`` steps; M^-1 is
      applied with the factors widened to float64. Restarted preconditioned GMRES with the true
      residual at each restart is the same thing. Converges far beyond u_f kappa(A) ~ 1.
  "classical_gmres" [CLASSICAL_GMRES]: classical steps while each one cuts the convergence measure
      at least in half, then GMRES corrections from the iterate reached (cheap steps when they
      work, the robust solver when they stop working).
Stopping without convergence: ``max_iters`` iterations (classical: solves with M; GMRES: inner
steps), or a backward error that stagnates or grows (3 slow classical steps, 2 slow GMRES steps
in a row; slow = convergence measure down by less than 2x) -> NO_CONVERGENCE; inf/NaN in a residual
or correction -> REFINEMENT_OVERFLOW. Either way the iterate with the smallest backward error is kept.

Where it runs: on the factorization's kernels (``lu.kernels``, :meth:`hpcmix.backends.base.Backend.dense_kernels`),
in their array module ``xp``: numpy on the host, cupy on a GPU. A (float64/complex128, given in that module), B,
the iterates, residuals, corrections and GMRES's Krylov basis live there, and so do the solves with the factors;
each residual norm, dot product and 2-norm is a float64 (complex128) reduction there whose few numbers (k column
norms, k + 1 Gram-Schmidt coefficients, one 2-norm) come to the host, where the convergence test, the HPL-MxP
ratios and GMRES's small Hessenberg least-squares problem (Givens rotations, one triangular solve) run. X, the
history and the backward error are returned on the host.
"""

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from .factorization import RefinementOverflow
from .norms import column_inf_norms, hpl_ratios
from .result import NO_CONVERGENCE, REFINEMENT_OVERFLOW, SUCCESS

METHODS = ("classical", "gmres", "classical_gmres")
SLOW = 0.5
PATIENCE = {"classical": 3, "gmres": 2}


@dataclass
class Outcome:
    """X (the converged iterate, or the one with the smallest backward error; None if there is none),
    its HPL-MxP scaled residual ``backward_error``, and the counts and history of the refinement."""

    X: np.ndarray | None
    code: int
    reason: str
    niters: int
    outer_niters: int
    history: list
    backward_error: float


class _Checker:
    """Residuals, the convergence test and the best iterate so far (A, B and the iterates in the module of
    ``kernels``)."""

    def __init__(self, A, B, normA, tol, kernels):
        self.A, self.B, self.normA, self.tol, self.kernels = A, B, normA, tol, kernels
        self.bn = kernels.to_host(column_inf_norms(B))
        self.history = []
        self.best, self.best_ratio = None, np.inf

    def __call__(self, X):
        """Return (R, converged columns, convergence measure: max over the others of
        ||r|| / (tol ||A|| ||x||), 0 when all have converged)."""
        xp = self.kernels.xp
        with np.errstate(all="ignore"):
            R = self.B - self.A @ X
        if not (bool(xp.isfinite(R).all()) and bool(xp.isfinite(X).all())):
            raise RefinementOverflow("inf or NaN in the residual of an iterate")
        xn, rn = self.kernels.to_host(column_inf_norms(X)), self.kernels.to_host(column_inf_norms(R))
        bound = self.tol * self.normA * xn
        done = rn <= bound
        with np.errstate(divide="ignore", invalid="ignore"):
            measure = float(np.max(rn[~done] / bound[~done], initial=0.0))
        ratio = float(hpl_ratios(rn, xn, self.bn, self.normA, X.shape[0]).max(initial=0.0))
        self.history.append(ratio)
        if ratio < self.best_ratio:
            self.best, self.best_ratio = X.copy(), ratio
        return R, done, measure


def gmres(A, precondition, r, max_steps, rtol, kernels):
    """Left-preconditioned GMRES for A d = r from d = 0, with Arnoldi by classical Gram-Schmidt
    applied twice and complex Givens rotations. Stops when ||M^-1 (r - A d)||_2 <= rtol ||M^-1 r||_2
    (the rotated least-squares residual) or after ``max_steps``. Returns (d, steps).
    A, r, d and the Krylov basis are arrays of ``kernels.xp``; the Hessenberg matrix and the rotations are on
    the host (module doc).
    GMRES is linear in r, so it runs on r / max|r_i| (a power of two, exact) and scales d back:
    the 2-norms cannot overflow or underflow whatever the size of the residual."""
    xp = kernels.xp
    rmax = float(abs(r).max())
    dtype = np.result_type(A.dtype, r.dtype)
    if rmax == 0 or max_steps <= 0:
        return xp.zeros(r.shape, dtype), 0
    s = float(np.exp2(np.floor(np.log2(rmax))))
    with np.errstate(all="ignore"):
        d, steps = _gmres(A, precondition, r / s, max_steps, rtol, dtype, kernels)
        d = d * s
    if not bool(xp.isfinite(d).all()):
        raise RefinementOverflow("inf or NaN in a GMRES correction")
    return d, steps


def _gmres(A, precondition, r, max_steps, rtol, dtype, kernels):
    xp = kernels.xp
    z = precondition(r)
    beta = kernels.nrm2(z)
    if not np.isfinite(beta):
        raise RefinementOverflow("inf or NaN in the preconditioned residual")
    if beta == 0:
        return xp.zeros(r.shape, dtype), 0
    V = xp.empty((max_steps + 1, r.shape[0]), dtype)
    H = np.zeros((max_steps + 1, max_steps), dtype)
    c = np.zeros(max_steps)
    s = np.zeros(max_steps, dtype)
    g = np.zeros(max_steps + 1, dtype)
    V[0], g[0] = z / beta, beta
    k = 0
    while k < max_steps:
        w = precondition(A @ V[k]).astype(dtype, copy=False)
        for _ in range(2):
            h = V[:k + 1].conj() @ w
            w = w - V[:k + 1].T @ h
            H[:k + 1, k] += kernels.to_host(h)
        H[k + 1, k] = kernels.nrm2(w)
        for i in range(k):
            hi = c[i] * H[i, k] + s[i] * H[i + 1, k]
            H[i + 1, k] = -np.conj(s[i]) * H[i, k] + c[i] * H[i + 1, k]
            H[i, k] = hi
        a, b = H[k, k], H[k + 1, k]
        if not (np.isfinite(a) and np.isfinite(b)):
            raise RefinementOverflow("inf or NaN in the GMRES Hessenberg matrix")
        rho = np.hypot(abs(a), abs(b))
        if a == 0:
            c[k], s[k], H[k, k] = 0.0, 1.0, b
        else:
            c[k], s[k], H[k, k] = abs(a) / rho, (a / abs(a)) * np.conj(b) / rho, (a / abs(a)) * rho
        H[k + 1, k] = 0
        g[k + 1], g[k] = -np.conj(s[k]) * g[k], c[k] * g[k]
        breakdown = abs(b) == 0
        k += 1
        if abs(g[k]) <= rtol * beta or breakdown:
            break
        V[k] = w / b
    y = solve_triangular(H[:k, :k], g[:k])
    return V[:k].T @ xp.asarray(y), k


def refine(A, B, normA, lu, method, *, tol, max_iters, max_inner, inner_tol):
    """Refine A X = B (float64/complex128, B of shape (n, k)) with the factorization ``lu``
    (:class:`~hpcmix.dense.factorization.LowPrecisionLU`) on its kernels ``lu.kernels``: A in their array
    module (the host's A, or its copy on the device), B on the host; returns an :class:`Outcome` (on the host)."""
    if method not in METHODS:
        raise ValueError(f"unknown refinement {method!r}; one of {', '.join(METHODS)}")
    kernels = lu.kernels
    xp = kernels.xp
    B = xp.asarray(B)
    check = _Checker(A, B, normA, tol, kernels)
    counts = np.zeros(B.shape[1], dtype=int)
    outer = 0

    def outcome(X, code, reason):
        backward = check.history[-1] if code == SUCCESS else check.best_ratio
        return Outcome(None if X is None else kernels.to_host(X), code, reason, int(counts.max(initial=0)), outer,
                       check.history, backward)

    try:
        X = lu.solve_low(B)
        R, done, measure = check(X)
        mode = "gmres" if method == "gmres" else "classical"
        slow = 0
        while not done.all():
            todo = np.nonzero(~done)[0]
            if counts[todo].max() >= max_iters:
                return outcome(check.best, NO_CONVERGENCE, f"no convergence in {max_iters} iterations")
            if mode == "classical":
                columns = xp.asarray(todo)
                X[:, columns] += lu.solve_low(R[:, columns])
                counts[todo] += 1
            else:
                for j in todo.tolist():
                    d, steps = gmres(A, lu.solve64, R[:, j], min(max_inner, max_iters - counts[j]), inner_tol,
                                     kernels)
                    X[:, j] += d
                    counts[j] += steps
            outer += 1
            previous = measure
            R, done, measure = check(X)
            slow = slow + 1 if measure > SLOW * previous else 0
            if slow and mode == "classical" and method == "classical_gmres":
                mode, slow = "gmres", 0
            elif slow >= PATIENCE[mode]:
                return outcome(check.best, NO_CONVERGENCE,
                               f"the backward error stagnated ({mode} refinement, {slow} slow steps)")
        return outcome(X, SUCCESS, "converged")
    except RefinementOverflow as exc:
        return outcome(check.best, REFINEMENT_OVERFLOW, str(exc))
