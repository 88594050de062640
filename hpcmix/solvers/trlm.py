"""Thick-restart Lanczos (TRLM, as QUDA's eig_trlm) for the lowest eigenpairs of a Hermitian operator,
with Chebyshev polynomial acceleration.

Lanczos runs on p(A), whose largest eigenvalues belong to A's lowest eigenvectors: with Chebyshev
acceleration (``poly_degree`` d > 1) p(A) = T_d(x(A)), the Chebyshev polynomial of

    x(A) = ((a_max + a_min) - 2 A) / (a_max - a_min),

which maps the unwanted part [a_min, a_max] of the spectrum onto [-1, 1] (|T_d| <= 1 there) and the
part below a_min above 1, where T_d(x) = cosh(d arccosh x) grows fast; ``a_max`` defaults to 1.1
times a power-iteration estimate of the largest eigenvalue. Without it (d = 1) p(A) = -A.

The Krylov basis V (``n_kr`` + 1 vectors, a block of the operator's space, in the eigensolver
``precision``) is orthonormalized in full against its earlier vectors (classical Gram-Schmidt, twice,
with the block kernels), and H = V^dag p(A) V is kept whole, so a restarted basis needs no special case.
At a restart the Ritz vectors of the ``n_keep`` largest Ritz values of p(A) replace the basis (V Y) and
the residual vector follows them; Lanczos then extends that basis. Locking (as QUDA's): the leading Ritz
pairs whose estimates are a hundredfold below the bound are locked at a restart: they stay at the front
of the basis, out of the rotations and the small eigenproblem, and are decoupled from the new Lanczos
vectors (their couplings, below tol, set to zero), which are still orthogonalized against them.

Once ``n_ev`` Ritz pairs have residual estimates |beta y_last| of at most ``tol`` times the largest
|Ritz value| of p(A), the eigenvalues of A are their Rayleigh quotients <v, A v>, and each pair is
checked for real: ||A v - lambda v|| <= tol ||A||, ||A|| estimated by the largest eigenvalue of A seen
(the power iteration's); where a pair fails, the estimates' bound is tightened tenfold and the
restarts go on.

Reductions are global float64 sums in rank order and the small dense problems are solved from identical
numbers on every rank, so every rank takes the same decisions and returns the same eigenvalues.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import SolverError
from ..fields.block import block_times

POWER_ITERATIONS = 30
#: Pairs are locked once their estimates are this far below the bound: a pair locked just at the bound
#: stops improving and may fail the final check on A (which then unlocks everything and costs a restart).
LOCK_FACTOR = 0.01
A_MAX_SAFETY = 1.1


@dataclass
class EigenResult:
    """The lowest ``n_ev`` eigenpairs of A: ``eigenvalues`` ascending (float64), ``vectors`` (a block of A's
    space, vector i for eigenvalue i), ``residuals`` ||A v - lambda v|| / ||A||; ``matvecs`` (applications of A),
    ``restarts``, ``seconds``, the ``a_max`` used, the ``norm`` estimate of ||A``, and whether every pair
    met ``tol``."""

    eigenvalues: np.ndarray
    vectors: object
    residuals: np.ndarray
    converged: bool
    matvecs: int = 0
    restarts: int = 0
    seconds: float = 0.0
    a_max: float = 0.0
    norm: float = 0.0
    history: list = field(default_factory=list)      # Ritz pairs converged after each restart
    locked: int = 0                                  # pairs locked when the last restart ended


class TRLM:
    """The eigensolver (module doc). ``precision`` (a field precision or None: the operator's) stores the
    basis; the operator is applied in it."""

    name = "trlm"

    def __init__(self, n_ev, n_kr=None, tol=1e-8, max_restarts=100, poly_degree=1, a_min=None, a_max=None,
                 precision=None, seed=1234):
        self.n_ev = int(n_ev)
        self.n_kr = int(n_kr) if n_kr is not None else 2 * self.n_ev + 8
        if self.n_ev < 1 or self.n_kr < self.n_ev + 6:
            raise SolverError(f"trlm needs n_ev >= 1 and n_kr >= n_ev + 6, got n_ev = {self.n_ev}, n_kr = {self.n_kr}")
        if poly_degree > 1 and a_min is None:
            raise SolverError("trlm with Chebyshev acceleration (poly_degree > 1) needs a_min, the bottom of the "
                              "part of the spectrum to suppress")
        self.tol, self.max_restarts, self.poly_degree = float(tol), int(max_restarts), int(poly_degree)
        self.a_min, self.a_max, self.precision, self.seed = a_min, a_max, precision, seed

    # ---- p(A) ----------------------------------------------------------------------------------------
    def _polynomial(self, op, sp, a_max):
        """p(A) as a callable on fields, and its cost in applications of A."""
        d = self.poly_degree
        if d <= 1:
            def negated(v):
                av = op(v)
                return sp.lincomb(av, (-1.0,), (av,))

            return negated, 1
        a_min = float(self.a_min)
        scale, shift = -2.0 / (a_max - a_min), (a_max + a_min) / (a_max - a_min)

        def chebyshev(v):
            """T_d(x) v by T_0 = v, T_1 = x v, T_{k+1} = 2 x T_k - T_{k-1}."""
            prev = v
            ax = op(v)
            cur = sp.lincomb(ax, (scale, shift), (ax, v))
            for _ in range(d - 1):
                ax = op(cur)
                prev, cur = cur, sp.lincomb(ax, (2.0 * scale, 2.0 * shift, -1.0), (ax, cur, prev))
            return cur

        return chebyshev, d

    @staticmethod
    def _largest_eigenvalue(op, sp, v):
        """A's largest eigenvalue by power iteration from ``v`` (Rayleigh quotients)."""
        lam = 0.0
        for _ in range(POWER_ITERATIONS):
            v = sp.lincomb(v, (1.0 / math.sqrt(sp.norm2(v)),), (v,))
            w = op(v)
            lam = sp.inner(v, w).real
            v = w
        return lam

    # ---- Lanczos ---------------------------------------------------------------------------------------
    @staticmethod
    def _orthonormalize(sp, V, j, w):
        """w minus its components along V[0 .. j] (classical Gram-Schmidt, twice); returns (the
        coefficients <V_i, p(A) v_j> of the first pass plus the second's, |w| after)."""
        head = V.head(j + 1)
        h = np.zeros(j + 1, complex)
        for _ in range(2):
            c = sp.block_inner(head, w)
            sp.block_lincomb(w, -c, head, accumulate=True)
            h += c
        return h, math.sqrt(sp.norm2(w))

    def solve(self, op, start=None):
        """The lowest ``n_ev`` eigenpairs of the Hermitian ``op`` (an :class:`EigenResult`), Lanczos (and
        the power iteration) starting from ``start``, a field of op's space (default: random, from
        ``seed``; canonical arrays need it, their space does not fix a field's shape, nor which sites an
        operator acts on)."""
        t0 = time.perf_counter()
        op = op.at(self.precision) if self.precision is not None else op
        sp, n_ev, n_kr = op.space, self.n_ev, self.n_kr
        V = sp.block(n_kr + 1, op.precision)
        start = sp.random_like(V[0], np.random.default_rng(self.seed)) if start is None else sp.copy(start)
        a_max = self.a_max
        matvecs = 0
        if a_max is None:
            a_max = A_MAX_SAFETY * self._largest_eigenvalue(op, sp, start)
            matvecs += POWER_ITERATIONS
        p_of_a, cost = self._polynomial(op, sp, a_max)
        V.store(0, 1.0 / math.sqrt(sp.norm2(start)), start)
        H = np.zeros((n_kr + 1, n_kr), complex)
        n_keep = min(n_ev + (n_kr - n_ev) // 2, n_kr - 1)
        k, locked, restarts, history, inner_tol = 0, 0, 0, [], self.tol
        while True:
            for j in range(k, n_kr):                                          # extend the basis
                w = p_of_a(V[j])
                matvecs += cost
                H[:j + 1, j], beta = self._orthonormalize(sp, V, j, w)
                H[:locked, j] = 0                     # locked: eigenvectors of p(A) to tol, decoupled
                H[j + 1, j] = beta
                V.store(j + 1, 1.0 / beta, w)
            T = H[locked:n_kr, locked:n_kr]
            theta, Y = np.linalg.eigh(0.5 * (T + T.conj().T))
            order = np.argsort(theta)[::-1]                                   # largest of p(A) first
            theta, Y = theta[order], Y[:, order]
            largest = max(np.abs(theta).max(), np.abs(np.diag(H)[:locked]).max(initial=0.0))
            estimate = np.abs(H[n_kr, n_kr - 1] * Y[n_kr - locked - 1])
            converged = estimate[:n_ev - locked] <= inner_tol * largest
            history.append(locked + int(np.sum(converged)))
            if history[-1] >= n_ev or restarts >= self.max_restarts:
                rotation = np.zeros((n_kr, n_ev), complex)                    # locked vectors as they are
                rotation[np.arange(locked), np.arange(locked)] = 1.0
                rotation[locked:, locked:] = Y[:, :n_ev - locked]
                result = self._ritz_pairs(op, sp, V.head(n_kr), rotation, a_max, matvecs, restarts, history, t0)
                if result.converged or restarts >= self.max_restarts:
                    result.locked = locked
                    return result
                matvecs, inner_tol = result.matvecs, 0.1 * inner_tol      # the estimates were optimistic:
                newly = -locked                                           # unlock all, tighten, go on
            else:
                lockable = estimate[:n_ev - locked] <= LOCK_FACTOR * inner_tol * largest
                newly = int(np.argmin(lockable)) if not lockable.all() else len(lockable)
            restarts += 1
            active = n_keep - locked                  # V[locked:n_keep] <- V[locked:n_kr] Y (Ritz vectors)
            V.assign(locked, block_times(sp, V.part(locked, n_kr), Y[:, :active]))
            V.assign(n_keep, V.part(n_kr, n_kr + 1))
            beta, locked_theta = H[n_kr, n_kr - 1], np.diag(H)[:locked].copy()
            H[:] = 0                                  # p(A) V Y = V Y theta + beta v_m (e_m^T Y)
            H[np.arange(n_keep), np.arange(n_keep)] = np.concatenate([locked_theta, theta[:active]])
            H[n_keep, locked:n_keep] = beta * Y[n_kr - locked - 1, :active]
            locked += newly                           # the leading converged pairs leave the updates
            H[n_keep, :locked] = 0
            k = n_keep

    def _ritz_pairs(self, op, sp, V, Y, a_max, matvecs, restarts, history, t0):
        """The Ritz vectors V Y of A, their Rayleigh quotients (ascending) and checked residuals."""
        n = Y.shape[1]
        vectors = block_times(sp, V, Y)
        lam, res = np.empty(n), np.empty(n)
        norm = a_max / A_MAX_SAFETY if self.a_max is None else a_max
        for i in range(n):
            v = vectors.store(i, 1.0 / math.sqrt(sp.norm2(vectors[i])), vectors[i])
            av = op(v)
            lam[i] = sp.inner(v, av).real
            res[i] = math.sqrt(sp.norm2(sp.lincomb(av, (1.0, -lam[i]), (av, v)))) / norm
        order = np.argsort(lam)
        return EigenResult(eigenvalues=lam[order], vectors=vectors.take(order), residuals=res[order],
                           converged=bool(np.all(res <= self.tol)), matvecs=matvecs + n, restarts=restarts,
                           seconds=time.perf_counter() - t0, a_max=a_max, norm=norm, history=history)
