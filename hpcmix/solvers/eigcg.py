"""EigCG (A. Stathopoulos and K. Orginos, SIAM J. Sci. Comput. 32 (2010) 439; QUDA's inv_eigcg_quda.cpp):
CG that learns the low modes of its Hermitian positive-definite operator A while solving a sequence of
right-hand sides, and deflates the later solves with them.

A is ``op`` where it is Hermitian, else A = M^dag M with M = ``op`` (CG's normal equations, right-hand
side c = M^dag b); the true residual |b - M x| / |b| of the original system decides convergence.

**eigCG phase** (the first ``rhs_for_eigcg`` solves, in the outer precision): CG from the Galerkin guess
below, whose normalized residuals v_j = r_j / |r_j| are Lanczos vectors of A, with the Lanczos matrix

    T_jj = 1 / alpha_j + beta_{j-1} / alpha_{j-1},    T_{j,j+1} = T_{j+1,j} = -sqrt(beta_j) / alpha_j

from CG's coefficients (Fletcher-Reeves beta). The vectors go into a search space V of ``search_dim`` = m
vectors (a block of the operator's space, in the ``eigensolver`` precision) with T = V^dag A V. When V is
full it is restarted: Y (Y~) the ``n_ev`` lowest eigenvectors of T_m (of T_{m-1}, padded with a zero row),
Q = orth[Y, Y~], Q^dag T Q = Z diag(theta) Z^dag, V <- V Q Z (2 n_ev vectors), T <- diag(theta), and the
next vector's couplings T_{i,2n_ev} = <V_i, A r> / |r| are computed explicitly, with A r = A p_j -
beta_{j-1} A p_{j-1} from the products CG has already made. When a solve that restarted V at least once
ends (one that did not has not resolved the low end yet; QUDA asks the same), the ``n_ev`` lowest Ritz
vectors of the last V and T (Rayleigh-Ritz) are orthonormalized against the deflation space U
(classical Gram-Schmidt, twice) and added to it with their row of H = U^dag A U (one application of A
each); a vector with less than sqrt(u) of its norm outside U is dropped.

**init-CG phase** (every later solve): the existing mixed-precision CG (any precision pair, reliable
updates) from the Galerkin guess x0 = U H^-1 U^dag c: :class:`~hpcmix.solvers.deflate.Deflated` (CG)
with the Ritz pairs of H (U H^-1 U^dag = W theta^-1 W^dag for W = U Z, H = Z theta Z^dag), whatever
re-deflation Deflated gives CG included. As QUDA's, it stops once at true residual ``tol_restart`` and
re-deflates its residual (x += U H^-1 U^dag (c - A x)) before a fresh CG solves to ``tol``. Every eigCG
solve also starts from the Galerkin guess of the U of its time (incremental eigCG).

The eigCG loop stops when its iterated residual meets the target; the true residual then decides. Where
it misses, the target is tightened and the same Lanczos process goes on while that still helps (the
true residual at least halves), and mixed-precision CG finishes what is left.

U lives on the solver instance, so one solver solving column after column (a propagator stage) keeps
it; it belongs to one operator (:meth:`EigCG.reset` forgets it; a new space starts afresh).
:meth:`EigCG.eigenpairs` gives it as an :class:`~hpcmix.solvers.trlm.EigenResult`.
"""

import math
import time

import numpy as np

from ..errors import SolverError
from ..fields.block import block_times
from ..params import Param
from .base import Solver, SolveResult
from .cg import CG
from .deflate import Deflated
from .precisions import MIXED_PARAMS, MixedPrecision
from .trlm import EigenResult

EIGCG_PARAMS = {
    "n_ev": Param(int, 8, "Ritz vectors kept at a search-space restart (2 n_ev) and added to U per solve (n_ev)",
                  check=lambda n: None if n >= 1 else f"must be >= 1, got {n}"),
    "search_dim": Param(int, 64, "search space size m (QUDA max_search_dim); >= 2 n_ev + 1"),
    "rhs_for_eigcg": Param(int, 8, "right-hand sides solved by eigCG (U grows by n_ev each); init-CG after "
                           "(QUDA deflation_grid)", check=lambda n: None if n >= 1 else f"must be >= 1, got {n}"),
    "tol_restart": Param(float, 5e-5, "init-CG re-deflates once when its true residual reaches this (QUDA "
                         "tol_restart); <= tol: no restart",
                         check=lambda t: None if 0 < t < 1 else f"must lie in (0, 1), got {t}"),
}


def check_eigcg(cfg):
    """(key, message) for keys that do not fit together, else None."""
    if cfg["search_dim"] < 2 * cfg["n_ev"] + 1:
        return "search_dim", (f"must be >= 2 n_ev + 1 = {2 * cfg['n_ev'] + 1} (a restart keeps 2 n_ev Ritz "
                              f"vectors), got {cfg['search_dim']}")
    return None


class SearchSpace:
    """eigCG's search space: V (``m`` vectors in ``precision``), T = V^dag A V, its fill ``k``."""

    def __init__(self, sp, m, n_ev, precision):
        self.sp, self.m, self.n_ev = sp, m, n_ev
        self.V = sp.block(m, precision)
        self.T = np.zeros((m, m), complex)
        self.k = self.restarts = 0
        self.largest = 0.0                  # largest Ritz value seen: the ||A|| estimate

    @property
    def full(self):
        return self.k == self.m

    def add(self, r, rnorm, diag):
        """v_k = r / |r| with T_kk = ``diag``."""
        self.V.store(self.k, 1.0 / rnorm, r)
        self.T[self.k, self.k] = diag
        self.k += 1

    def couple(self, offdiag):
        """T_{k-1,k} = T_{k,k-1} = ``offdiag``, the coupling of the last vector to the next."""
        if self.k < self.m:
            self.T[self.k - 1, self.k] = self.T[self.k, self.k - 1] = offdiag

    def restart(self, ar, rnorm):
        """V <- V Q Z, T <- diag(theta) (module doc), coupled to the next vector r / |r| by A r = ``ar``."""
        m, n = self.m, self.n_ev
        T = self.T
        lam, Y = np.linalg.eigh(T)
        _, Yt = np.linalg.eigh(T[:m - 1, :m - 1])
        both = np.zeros((m, 2 * n), complex)
        both[:, :n], both[:m - 1, n:] = Y[:, :n], Yt[:, :n]
        Q, _ = np.linalg.qr(both)
        theta, Z = np.linalg.eigh(Q.conj().T @ T @ Q)
        C = Q @ Z
        self.largest = max(self.largest, float(lam[-1]))
        self.V.assign(0, block_times(self.sp, self.V, C))
        T[:] = 0
        T[np.arange(2 * n), np.arange(2 * n)] = theta
        h = self.sp.block_inner(self.V.head(2 * n), self.sp.convert(ar, self.V.precision)) / rnorm
        T[:2 * n, 2 * n], T[2 * n, :2 * n] = h, h.conj()
        self.k = 2 * n
        self.restarts += 1

    def ritz(self):
        """The ``n_ev`` lowest Ritz vectors of A in V[:k] (a block), by Rayleigh-Ritz with T[:k, :k]."""
        k = self.k
        theta, Y = np.linalg.eigh(self.T[:k, :k])
        self.largest = max(self.largest, float(theta[-1]))
        return block_times(self.sp, self.V.head(k), Y[:, :min(self.n_ev, k)])


class DeflationSpace:
    """U (orthonormal, up to ``capacity`` vectors in ``precision``) and H = U^dag A U."""

    def __init__(self, sp, capacity, precision):
        self.sp, self.n = sp, 0
        self.U = sp.block(capacity, precision)
        self.H = np.zeros((capacity, capacity), complex)
        self.drop = math.sqrt(precision.unit_roundoff)
        self._pairs = None

    def extend(self, A, vectors):
        """Orthonormalize each of ``vectors`` against U and add it with its row of H (one A each); returns
        how many were added."""
        sp, U, added = self.sp, self.U, 0
        for i in range(len(vectors)):
            if self.n == len(U):
                break
            w = sp.copy(vectors[i])
            before = math.sqrt(sp.norm2(w))
            for _ in range(2):
                if self.n:
                    sp.block_lincomb(w, -sp.block_inner(U.head(self.n), w), U.head(self.n), accumulate=True)
            after = math.sqrt(sp.norm2(w))
            if not after > self.drop * before:
                continue
            u = U.store(self.n, 1.0 / after, w)
            au = A(sp.convert(u, A.precision))
            h = sp.block_inner(U.head(self.n + 1), sp.convert(au, U.precision))
            self.H[:self.n + 1, self.n], self.H[self.n, :self.n] = h, h[:self.n].conj()
            self.H[self.n, self.n] = h[self.n].real
            self.n += 1
            added += 1
            self._pairs = None
        return added

    def ritz_pairs(self):
        """(theta ascending, W = U Z) with H = Z diag(theta) Z^dag (cached until U grows)."""
        if self._pairs is None:
            theta, Z = np.linalg.eigh(self.H[:self.n, :self.n])
            self._pairs = theta, block_times(self.sp, self.U.head(self.n), Z)
        return self._pairs


class EigCG(MixedPrecision, Solver):
    name = "eigcg"
    description = ("CG that accumulates low Ritz vectors over right-hand sides and deflates later solves "
                   "(eigCG, then init-CG)")
    params = dict(Solver.params, **MIXED_PARAMS, **EIGCG_PARAMS)

    def __init__(self, **kw):
        for key, param in EIGCG_PARAMS.items():
            kw.setdefault(key, param.default)
        super().__init__(**kw)
        problem = check_eigcg(self.__dict__)
        if problem:
            raise SolverError(f"eigcg: {problem[0]} {problem[1]}")
        self.reset()

    @classmethod
    def validate_config(cls, cfg, registry):
        return super().validate_config(cfg, registry) or check_eigcg(cfg)

    def reset(self):
        """Forget the accumulated space (the next solve is eigCG's first)."""
        self.deflation, self.solved, self.operator, self.norm = None, 0, None, 0.0

    def eigenpairs(self, tol=1e-8):
        """U as an :class:`EigenResult`: the Ritz values of H = U^dag A U (ascending) and vectors W = U Z,
        residuals ||A w - theta w|| / ||A|| (||A|| estimated by the largest Ritz value eigCG saw; one
        application of A each), ``converged`` where every residual is <= ``tol``."""
        if self.deflation is None or not self.deflation.n:
            raise SolverError("eigcg has no Ritz vectors yet: solve a right-hand side first")
        theta, W = self.deflation.ritz_pairs()
        A, sp = self.operator, self.deflation.sp
        res = np.empty(len(theta))
        for i, t in enumerate(theta):
            w = sp.convert(W[i], A.precision, np.complex128)
            aw = A(w)
            res[i] = math.sqrt(sp.norm2(sp.axpy(-t, w, aw))) / self.norm
        return EigenResult(eigenvalues=theta, vectors=W, residuals=res, converged=bool(np.all(res <= tol)),
                           matvecs=len(theta), norm=self.norm)

    # ---- the solve ---------------------------------------------------------------------------------------
    def _cg(self, tol, maxiter):
        """The mixed-precision CG of this solver's keys, with ``tol`` and ``maxiter``."""
        keys = {k: getattr(self, k) for k in CG.params}
        keys.update(tol=tol, maxiter=maxiter)
        return CG(registry=self.registry, **keys)

    def _deflated(self, inner):
        theta, W = self.deflation.ritz_pairs()
        return Deflated(inner, EigenResult(eigenvalues=theta, vectors=W, residuals=np.full(len(theta), np.nan),
                                           converged=False))

    def solve(self, op, b, x0=None):
        if not hasattr(op.space, "new"):
            raise SolverError("eigcg needs an operator on a backend's fields (half-lattice or whole): init-CG "
                              "deflates with LowModes, which makes new fields of the operator's space, and "
                              "canonical arrays have no shape to make them with")
        P = self.precisions()
        high = op.at(P.outer, P.reconstruct)
        A = high if high.hermitian else high.normal()
        if self.deflation is None or self.deflation.sp is not op.space:
            self.reset()
            self.deflation = DeflationSpace(op.space, self.n_ev * self.rhs_for_eigcg, P.eigensolver)
        self.operator = A
        if self.solved < self.rhs_for_eigcg:
            return self._eigcg_solve(high, A, b, x0)
        return self._init_cg(op, b, x0)

    def _init_cg(self, op, b, x0):
        tols = [self.tol_restart, self.tol] if self.tol_restart > self.tol else [self.tol]
        total = None
        for tol in tols:
            maxiter = self.maxiter - (total.iterations if total else 0)
            res = self._deflated(self._cg(tol, maxiter)).solve(op, b, x0)
            total = res if total is None else total.absorb(res)
            total.x, total.true_residual, total.converged = res.x, res.true_residual, res.converged
            x0 = res.x
            if not res.converged:
                break
        total.converged = bool(total.true_residual <= self.tol)
        total.solver = f"eigcg(init-CG, {self.deflation.n} vectors in U: {total.solver})"
        return total

    def _eigcg_solve(self, high, A, b, x0):
        """One solve of the eigCG phase (module doc), in the outer precision."""
        t0 = time.perf_counter()
        sp, P = high.space, self.precisions()
        result = SolveResult(x=None, solver=self.name, precision=P.outer.name, sloppy=P.outer.name)
        bnorm = math.sqrt(sp.norm2(b))
        if bnorm == 0:
            return self.finish(high, b, sp.zeros_like(b), 1.0, result, t0, 0, "zero right-hand side")
        normal = A is not high
        c = high.adjoint()(b) if normal else b
        cnorm = math.sqrt(sp.norm2(c))
        if self.deflation.n:
            x = sp.copy(self._deflated(None).guess(high, b, x0), np.complex128)
        else:
            x = sp.zeros_like(b, np.complex128) if x0 is None else sp.copy(x0, np.complex128)
        r = sp.axpy(-1.0, A(x), sp.copy(c, np.complex128))
        search = SearchSpace(sp, self.search_dim, self.n_ev, P.eigensolver)
        a_apps, h_apps, target, last = 1, int(normal), self.tol, math.inf
        r2 = sp.norm2(r)
        p = sp.copy(r)
        alpha_old, beta, ap_old = 1.0, 0.0, None
        reason, breakdown = f"reached maxiter = {self.maxiter}", False
        while result.iterations < self.maxiter and not breakdown:
            while r2 > (target * cnorm) ** 2 and result.iterations < self.maxiter:
                ap = A(p)
                a_apps += 1
                pap = sp.inner(p, ap).real
                if not pap > 0:
                    reason, breakdown = "breakdown: <p, A p> <= 0", True
                    break
                alpha = r2 / pap
                if search.full:
                    search.restart(sp.axpy(-beta, ap_old, sp.copy(ap)), math.sqrt(r2))
                search.add(r, math.sqrt(r2), 1.0 / alpha + beta / alpha_old)
                sp.axpy(alpha, p, x)
                r2_old, r2 = r2, sp.axpy_norm2(-alpha, ap, r)
                beta = r2 / r2_old
                sp.xpay(r, beta, p)
                search.couple(-math.sqrt(beta) / alpha)
                alpha_old, ap_old = alpha, ap
                result.iterations += 1
                result.history.append(math.sqrt(r2) / cnorm)
            _, true_res = self.true_residual(high, b, x, bnorm)
            h_apps += 1
            if true_res <= self.tol or not true_res <= 0.5 * last:
                break
            target, last = target * 0.5 * self.tol / true_res, true_res
        if search.restarts:
            a_apps += self.deflation.extend(A, search.ritz())
        self.norm = max(self.norm, search.largest)
        self.solved += 1
        result.flops += a_apps * A.flops
        result = self.finish(high, b, x, bnorm, result, t0, h_apps, reason)
        if not result.converged and result.iterations < self.maxiter:
            rest = self._cg(self.tol, self.maxiter - result.iterations).solve(high, b, x)
            result.absorb(rest)
            result.x, result.true_residual, result.converged = rest.x, rest.true_residual, rest.converged
        result.solver = (f"eigcg(eigCG phase: rhs {self.solved} of {self.rhs_for_eigcg}, {search.restarts} "
                         f"search restarts, {self.deflation.n} vectors in U)")
        return result
