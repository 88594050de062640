"""GMRES with deflated restarting, GMRES-DR(m, k) (R. B. Morgan, SIAM J. Sci. Comput. 24 (2002) 20; QUDA's
inv_gmresdr_quda.cpp), for non-Hermitian systems, with QUDA's precisions and an optional preconditioner.

A cycle extends the Arnoldi relation A Z_n = V_{n+1} H (V orthonormal, H an (n+1) x n complex128 matrix
kept whole; Z = V, or Z = K V with a preconditioner K: flexible, right-preconditioned, FGMRES-DR) from
the vectors it starts with up to n = m = ``n_kr`` columns, orthogonalizing each A z_j against all of V
(classical Gram-Schmidt twice, one block kernel pass each) in float64, and minimizes the residual of the
correction equation A e = s over e = Z_n d: with s = V_{n+1} c, d = argmin |c - H d| (least squares),
the iterated residual |c - H d| recorded per step. The correction is added to the solution in the outer
precision and the true residual s = b - A y recomputed there (one outer application per cycle; it alone
decides convergence).

At the restart the k = ``n_ev`` harmonic Ritz pairs (theta, g) of smallest |theta|, from

    H^H H g = theta H_n^H g        (H_n the upper n x n block),

span the deflation space: with P_k an orthonormal basis of the g and P_{k+1} = [P_k; 0] extended by u,
the unit vector orthogonal to the range of H (every harmonic residual H g - theta [g; 0] lies along it),

    V_{k+1} <- V_{n+1} P_{k+1},   Z_k <- Z_n P_k,   H <- P_{k+1}^H H P_k,

which keeps A Z_k = V_{k+1} H exactly, so the next cycle costs m - k new applications of A. The true
residual then enters the space in place of v_{k+1}: with a = V_{k+1}^H s, v_{k+1} <- (s - V_k a_k)
normalized (twice orthogonalized) and c = (a_k, |s - V_k a_k|), and the last row of H is multiplied by
gamma = <v_{k+1} new, v_{k+1} old>, the projection of the old direction on the new (exact in exact
arithmetic, where s is the iterated residual; in finite precision the relation loses the old
direction's part orthogonal to the new one, |1 - |gamma|^2|^(1/2), a rounding-sized error). Where
|gamma| < 1/2 the iterated residual has drifted far from the true one (a sloppy operator wrong beyond
its rounding), so the cycle starts afresh from s without the deflation space (a "clean" restart, as
QUDA makes), as it does where no harmonic Ritz vector can be kept (a first cycle of one step). With H_n
singular the eigenproblem has infinite theta; they sort last.

Precisions (:mod:`~hpcmix.solvers.precisions`): the cycles apply the sloppy operator; V and Z are stored
in ``precision_basis`` ("sloppy": the sloppy precision, following it through fallbacks); the solution
and the true residual are kept in the outer precision. A true residual above the previous one counts as
an increase, and stagnation is as for GCR; past their limits the sloppy precision falls back
(``fallback``; the cycles restart clean, the deflation space having been built with the failing
operator) or the solve stops. ``reliable_delta`` and ``alternative_reliable`` do not apply: every
restart is a reliable update.

``iterations`` counts the applications of the sloppy operator (a cycle's new Arnoldi steps), ``restarts``
the cycles after the first; the outer applications (one per cycle) are in the flops. Small dense problems
are solved in numpy from global float64 reductions, so every rank takes the same decisions. After a
solve ``ritz_values`` holds the harmonic Ritz values of its last cycle's deflation space (ascending |theta|).
"""

import math

import numpy as np
import scipy.linalg

from ..errors import HpcmixError, SolverError
from ..fields.block import block_times
from ..params import Param
from ..precision import DOUBLE, resolve
from ..registry import get_registry
from .base import Solver
from .fallback import STAGNATION_PARAMS, STAGNATION_WINDOW, ResidualIncreases, Stagnation
from .gcr import Preconditioner, check_preconditioner, preconditioner_param
from .mixed_solve import MixedSolve, timed
from .precisions import MIXED_PARAMS, MixedPrecision

#: a deflated restart needs the true residual within 60 degrees of the iterated one (|gamma| >= 1/2)
GAMMA_MIN = 0.5


def check_sizes(n_ev, n_kr):
    """None, or why GMRES-DR(n_kr, n_ev) cannot run: it keeps n_ev >= 1 vectors and adds at least two per
    cycle."""
    if n_ev < 1 or n_kr <= n_ev + 1:
        return f"gmresdr needs n_ev >= 1 and n_kr > n_ev + 1, got n_ev = {n_ev}, n_kr = {n_kr}"
    return None


# ---- the small dense problems ---------------------------------------------------------------------------
def least_squares(H, c):
    """(d, |c - H d|) with d = argmin |c - H d|."""
    d = np.linalg.lstsq(H, c, rcond=None)[0]
    return d, float(np.linalg.norm(c - H @ d))


def harmonic_ritz(H):
    """(theta, G): the harmonic Ritz pairs H^H H g = theta H_n^H g of the (n+1) x n matrix H, ascending
    |theta| (infinite theta, from a singular H_n, last)."""
    n = H.shape[1]
    theta, G = scipy.linalg.eig(H.conj().T @ H, H[:n].conj().T)
    order = np.argsort(np.where(np.isfinite(theta), np.abs(theta), np.inf), kind="stable")
    return theta[order], G[:, order]


def deflated_restart(H, G):
    """(P, H_k): P = [P_k; 0] extended by the unit vector u orthogonal to the range of H ((n+1) x (k+1),
    orthonormal; P_k an orthonormal basis of the n x k columns G) and H_k = P^H H P_k ((k+1) x k)."""
    n, k = G.shape
    X = np.zeros((n + 1, k + 1), dtype=np.complex128)
    X[:n, :k] = np.linalg.qr(G)[0]
    X[:, k] = np.linalg.qr(H, mode="complete")[0][:, n]
    P = np.linalg.qr(X)[0]
    return P, P.conj().T @ H @ P[:n, :k]


# ---- the solver ---------------------------------------------------------------------------------------------
class GMRESDR(MixedPrecision, Solver):
    name = "gmresdr"
    description = "GMRES with deflated restarting (Morgan's GMRES-DR), cycles in the sloppy precision"
    params = dict(Solver.params, **{k: v for k, v in MIXED_PARAMS.items()
                                    if k not in ("reliable_delta", "alternative_reliable")},
                  **STAGNATION_PARAMS,
                  n_kr=Param(int, 24, "Krylov space dimension m of a cycle (its columns, deflation space included)"),
                  n_ev=Param(int, 8, "harmonic Ritz vectors k kept at each restart (smallest |theta|)",
                             check=lambda v: None if v >= 1 else "must be >= 1"),
                  precision_basis=Param(str, "sloppy", "precision the Arnoldi basis V (and Z = K V) is stored in; "
                                        "'sloppy' = the sloppy precision"),
                  preconditioner=preconditioner_param("solver used as right preconditioner (flexible: a table "
                                                      "with kind, or a solver's name), or 'none'"))

    def __init__(self, preconditioner=None, n_kr=24, n_ev=8, precision_basis="sloppy",
                 stagnation_window=STAGNATION_WINDOW, **kw):
        problem = check_sizes(n_ev, n_kr)
        if problem:
            raise SolverError(problem)
        if preconditioner is not None and not callable(preconditioner):
            raise TypeError(f"preconditioner must be a solver or None, got {preconditioner!r}")
        super().__init__(n_kr=n_kr, n_ev=n_ev, precision_basis=precision_basis,
                         stagnation_window=stagnation_window, **kw)
        self.preconditioner = preconditioner
        self.ritz_values = np.empty(0, dtype=np.complex128)

    @classmethod
    def validate_config(cls, cfg, registry):
        """The precision keys, n_kr against n_ev, ``precision_basis`` and the nested ``preconditioner``."""
        problem = super().validate_config(cfg, registry)
        if problem:
            return problem
        problem = check_sizes(cfg["n_ev"], cfg["n_kr"])
        if problem:
            return "n_kr", problem
        if cfg["precision_basis"] != "sloppy":
            try:
                resolve(registry, cfg["precision_basis"])
            except HpcmixError as exc:
                return "precision_basis", str(exc)
        return check_preconditioner(cfg["preconditioner"], registry)

    def basis_precision(self, low):
        """The precision of V and Z while the cycles apply the sloppy operator ``low``."""
        if self.precision_basis == "sloppy":
            return low.precision
        return resolve(self.registry or get_registry(), self.precision_basis)

    def solve(self, op, b, x0=None):
        ms = MixedSolve(self, op, b)
        self.ritz_values = np.empty(0, dtype=np.complex128)
        if ms.bnorm == 0:
            return ms.zero_rhs()
        result, sp, low = ms.result, ms.space, ms.low
        precondition = Preconditioner.of(self, op, ms)
        y, s = ms.start(x0)
        res = math.sqrt(sp.norm2(s)) / ms.bnorm
        increases = ResidualIncreases(self.max_res_increase, self.max_res_increase_total)
        stagnation = Stagnation(self.stagnation_window)
        reason = f"reached maxiter = {self.maxiter}"
        cycle = None
        while res > self.tol and result.iterations < self.maxiter:
            if cycle is None:
                cycle = Cycle(self, ms, precondition, s)
            x = cycle.run()
            y, s, new = ms.correct(y, x)
            result.reliable_update()
            theta, G = cycle.ritz()
            self.ritz_values = theta
            if new <= self.tol:
                res = new
                break
            result.restarts += 1
            stalled = stagnation.record(result.iterations, new)
            if stalled or increases.record(new > res):
                why = stagnation.describe() if stalled else increases.describe()
                if not low.escalate(result, why, increases):
                    reason = f"stopped: {why}"
                    break
                stagnation.reset(result.iterations)
                cycle = None                                 # the new precision starts a clean space
            elif not cycle.restart(G, s):
                cycle = None
            res = new
        return ms.finish(y, reason)


class Cycle:
    """The Arnoldi relation A Z_n = V_{n+1} H of GMRES-DR and the right-hand side s = V_{n+1} c of the
    correction equation (module doc), in the basis precision of the current sloppy operator; starts
    clean from the residual ``s``."""

    def __init__(self, solver, ms, precondition, s):
        self.solver, self.ms, self.precondition = solver, ms, precondition
        self.m, self.k = solver.n_kr, solver.n_ev
        sp, precision = ms.space, solver.basis_precision(ms.low)
        self.V = sp.block(self.m + 1, precision)
        self.Z = self.V if precondition is None else sp.block(self.m, precision)
        self.H = np.zeros((self.m + 1, self.m), dtype=np.complex128)
        self.c = np.zeros(self.m + 1, dtype=np.complex128)
        snorm = math.sqrt(sp.norm2(s))
        self.V.store(0, 1.0 / snorm, s)
        self.c[0], self.start, self.n = snorm, 0, 0

    def run(self):
        """Arnoldi steps from column ``start`` until n = m columns, an iterated residual at ``tol``, maxiter
        or an invariant space; returns the minimizing correction Z_n d (a double field)."""
        ms, solver, V, Z = self.ms, self.solver, self.V, self.Z
        sp, low, result, bnorm = ms.space, ms.low, ms.result, ms.bnorm
        for j in range(self.start, self.m):
            if self.precondition is not None:
                Z.store(j, 1.0, self.precondition(sp.convert(V[j], ms.P.preconditioner)))
            with timed(result, low.precision.name):
                w = sp.convert(low.operator(sp.convert(Z[j], low.precision)), DOUBLE)
                ms.counts["low"] += 1
                h = np.zeros(j + 1, dtype=np.complex128)
                for _ in range(2):                                   # classical Gram-Schmidt, twice
                    coeffs = sp.block_inner(V.head(j + 1), w)
                    sp.block_lincomb(w, -coeffs, V.head(j + 1), accumulate=True)
                    h += coeffs
                beta = math.sqrt(sp.norm2(w))
                self.H[:j + 1, j], self.H[j + 1, j] = h, beta
                V.store(j + 1, 1.0 / beta if beta > 0 else 0.0, w)
            self.n = j + 1
            result.iterations += 1
            _, rnorm = least_squares(self.H[:j + 2, :j + 1], self.c[:j + 2])
            result.history.append(rnorm / bnorm)
            if rnorm <= solver.tol * bnorm or result.iterations >= solver.maxiter or beta == 0:
                break
        n = self.n
        d, _ = least_squares(self.H[:n + 1, :n], self.c[:n + 1])
        x = sp.zeros_like(ms.b, np.complex128)
        return sp.block_lincomb(x, d, Z.head(n))

    def ritz(self):
        """(theta, G): the k harmonic Ritz pairs of smallest |theta| of the cycle's H (k <= n - 1)."""
        n = self.n
        theta, G = harmonic_ritz(self.H[:n + 1, :n])
        k = min(self.k, n - 1)
        return theta[:k], G[:, :k]

    def restart(self, G, s):
        """The deflated restart on the harmonic Ritz vectors G (V_{k+1}, Z_k, H; module doc), then the true
        residual s in place of v_{k+1}; False (start clean) where |gamma| < 1/2 or nothing is kept."""
        n, k, V, sp = self.n, G.shape[1], self.V, self.ms.space
        if k == 0:
            return False
        P, Hk = deflated_restart(self.H[:n + 1, :n], G)
        V.assign(0, block_times(sp, V, P))
        if self.Z is not V:
            self.Z.assign(0, block_times(sp, self.Z, P[:n, :k]))
        w = sp.copy(s, np.complex128)
        a = sp.block_inner(V.head(k + 1), w)
        sp.block_lincomb(w, -a[:k], V.head(k), accumulate=True)
        again = sp.block_inner(V.head(k), w)
        sp.block_lincomb(w, -again, V.head(k), accumulate=True)
        beta = math.sqrt(sp.norm2(w))
        if abs(a[k]) < GAMMA_MIN * beta or beta == 0:
            return False
        V.store(k, 1.0 / beta, w)
        self.H[:] = 0
        self.H[:k + 1, :k] = Hk
        self.H[k, :k] *= np.conj(a[k]) / beta
        self.c[:] = 0
        self.c[:k], self.c[k] = a[:k] + again, beta
        self.start = self.n = k
        return True
