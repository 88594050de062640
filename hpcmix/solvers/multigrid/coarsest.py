"""The coarsest multigrid level solved directly: its coarse operator D (the stored values, in the precision the
K-cycle applies it in) gathered as a dense matrix on rank 0, factorized once at setup by :mod:`hpcmix.dense`'s
fp32 LU. Each coarse system D c = r is then solved

- to a tolerance ``tol`` (what the K-cycle asks: its ``coarse_tol``): c = LU^-1 r by the fp32 triangular solves on
  rank 0 (the solution broadcast to every rank), refined by c += LU^-1 (r - D c) while the true residual
  |r - D c| / |r|, with D the stencil itself in its own precision (one sparse application, not the dense
  product), exceeds ``tol``; after :data:`MAX_STEPS` steps the solve falls back to the refinement below. One
  triangular pair usually suffices: the fp32 factors of a matrix of modest condition leave a residual far
  below the cycle's 0.25;
- without a tolerance: by classical iterative refinement to double precision (LAPACK DSGESV's test ||r - D c||_inf
  <= sqrt(n) eps ||D||_inf ||c||_inf; the float64 LU where fp32 refinement fails), exact to rounding: each step
  two triangular solves and a dense product in double.

The factorization is O(n^3) once at setup; a solve O(n^2).

The dense matrix's index of coarse dof a at global coarse site s (lexicographic t, z, y, x) is s N + a, the C
order of the global canonical array ``c[Tc, Zc, Yc, Xc, N]``; its rows are the stencil (:mod:`.coarse`):
D[(s, a), (s, b)] = X(s)[a, b] and D[(s, a), (s +- mu, b)] += Y_mu^{+-}(s)[a, b], summed where hops land on the
same site (coarse extents 1 and 2).
"""

import time

import numpy as np

from ...comm import collective
from ...dense import DenseFactorization
from ...errors import SolverError
from ..base import Solver, SolveResult
from .coarse import SIGNS

#: Refinement steps of a solve to a tolerance before it falls back to the refinement to double.
MAX_STEPS = 8
#: The default ``coarsest = "auto"`` takes the LU up to this many global coarsest dofs, GCR beyond (at the limit
#: rank 0 holds the complex128 matrix, 256 MiB, and its complex64 factors, 128 MiB).
LU_MAX_DOF = 4096


def dense_matrix(op):
    """The global dense matrix of the coarse operator ``op`` (complex128 ``[n, n]``, n = volume x dofs) on rank 0,
    None on the others (collective)."""
    lat, n = op.lattice, op.dofs
    X = lat.gather(op.X)
    Y = [[lat.gather(y) for y in pair] for pair in op.Y]
    if lat.pg.rank != 0:
        return None
    volume = lat.volume
    site = np.arange(volume).reshape(lat.global_shape)
    rows = site.ravel()
    A = np.zeros((volume, n, volume, n), dtype=np.complex128)
    A[rows, :, rows, :] = X.reshape(volume, n, n)
    for mu in range(4):
        for i, sign in enumerate(SIGNS):
            cols = np.roll(site, -sign, axis=3 - mu).ravel()          # the site x + sign mu of each x
            A[rows, :, cols, :] += Y[mu][i].reshape(volume, n, n)
    return A.reshape(volume * n, volume * n)


class DenseCoarsest(Solver):
    """D c = r on the coarse operator ``op`` by the LU factorized here once, to ``tol`` (None: to double precision;
    module doc); ``seconds``: the gather and factorization time."""

    name = "coarsest_lu"

    def __init__(self, op, tol=None):
        super().__init__()
        t0 = time.perf_counter()
        self.op, self.lattice, self.tol = op, op.lattice, tol
        A = dense_matrix(op)
        what = f"the coarsest operator (level {op.level})"
        self.factorization = collective(self.lattice.pg, lambda: None if A is None else DenseFactorization(
            A, "fp32", what=what), SolverError)
        self.seconds = time.perf_counter() - t0

    def solve(self, op, b, x0=None):
        """c = D^-1 b (``op`` must be the operator factorized; ``x0`` is ignored: the solve is direct)."""
        if op is not self.op:
            raise SolverError(f"{self.name}: factorized {self.op.name}, asked to solve with {op.name}")
        t0 = time.perf_counter()
        n = self.lattice.volume * self.op.dofs       # one triangular pair: 8 n^2 flops; a refinement step twice that
        if self.tol is not None:
            result = self._to_tolerance(op, b)
            if result is not None:
                result.seconds = time.perf_counter() - t0
                result.flops = 8.0 * n * n * result.iterations + op.flops * result.iterations
                return result
        x, niters, converged, reason, residual = self._on_root(b, self._refined)
        return SolveResult(x=x, solver=self.name, iterations=niters, true_residual=residual,
                           converged=converged, reason=reason, precision=op.precision.name, sloppy="fp32 LU",
                           flops=8.0 * n * n * (1 + 2 * niters), seconds=time.perf_counter() - t0)

    def _on_root(self, b, solve):
        """``solve(factorization, b)`` of the gathered ``b`` on rank 0; its results broadcast, the solution (first)
        scattered to every rank's coarse sites."""
        lat = self.lattice
        b_global = lat.gather(np.asarray(b, dtype=np.complex128))
        out = lat.pg.bcast(collective(lat.pg, lambda: None if b_global is None else solve(
            self.factorization, b_global), SolverError))
        return (lat.scatter(out[0]),) + tuple(out[1:])

    @staticmethod
    def _refined(fact, b):
        """The refinement to double precision on rank 0 (module doc): (x, steps, converged, reason, residual)."""
        res = fact.solve(b.ravel())
        bn = np.linalg.norm(b)
        r = np.linalg.norm(b.ravel() - fact.A @ res.x) / bn if bn else 0.0
        return res.x.reshape(b.shape), res.niters, res.converged, res.reason, float(r)

    def _to_tolerance(self, op, b):
        """The solve to ``tol`` (module doc), or None where :data:`MAX_STEPS` refinement steps do not reach it."""
        sp = op.space
        bnorm = np.sqrt(sp.norm2(b))
        if bnorm == 0:
            return SolveResult(x=np.zeros_like(b), solver=self.name, true_residual=0.0, converged=True,
                               reason="zero right-hand side", precision=op.precision.name, sloppy="fp32 LU")
        low = lambda fact, rhs: (fact.lu.solve_low(rhs.ravel()).reshape(rhs.shape),)  # noqa: E731
        x = self._on_root(b, low)[0].astype(b.dtype)
        for step in range(1, MAX_STEPS + 1):
            r = b - op(x)
            residual = float(np.sqrt(sp.norm2(r)) / bnorm)
            if residual <= self.tol:
                return SolveResult(x=x, solver=self.name, iterations=step, true_residual=residual, converged=True,
                                   reason=f"|r - D c| / |r| <= {self.tol:g}", precision=op.precision.name,
                                   sloppy="fp32 LU")
            x = x + self._on_root(r, low)[0].astype(b.dtype)
        return None
