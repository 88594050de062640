"""The coarsest multigrid level solved directly: its coarse operator D (the stored values, in the precision the
K-cycle applies it in) gathered as a dense matrix on rank 0, factorized once at setup by :mod:`hpcmix.dense`'s
fp32 LU, and each coarse system D c = r solved there by classical iterative refinement to double precision
(LAPACK DSGESV's test ||r - D c||_inf <= sqrt(n) eps ||D||_inf ||c||_inf; the float64 LU where fp32
refinement fails), the solution broadcast to every rank. So the coarsest solve is exact to rounding, not
to ``coarse_tol``, and costs O(n^2) (the first triangular solves, then two more and a product per refinement
step, usually two) after the O(n^3) factorization at setup.

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
    """D c = r on the coarse operator ``op`` by the LU factorized here once (module doc); ``seconds``: the
    gather and factorization time."""

    name = "coarsest_lu"

    def __init__(self, op):
        super().__init__()
        t0 = time.perf_counter()
        self.op, self.lattice = op, op.lattice
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
        lat = self.lattice
        b_global = lat.gather(np.asarray(b, dtype=np.complex128))

        def on_root():
            if b_global is None:
                return None
            res = self.factorization.solve(b_global.ravel())
            bn = np.linalg.norm(b_global)
            r = np.linalg.norm(b_global.ravel() - self.factorization.A @ res.x) / bn if bn else 0.0
            return res.x.reshape(b_global.shape), res.niters, res.converged, res.reason, float(r)

        x, niters, converged, reason, residual = lat.pg.bcast(collective(lat.pg, on_root, SolverError))
        n = lat.volume * self.op.dofs            # one triangular pair: 8 n^2 flops; a refinement step twice that
        return SolveResult(x=lat.scatter(x), solver=self.name, iterations=niters, true_residual=residual,
                           converged=converged, reason=reason, precision=op.precision.name, sloppy="fp32 LU",
                           flops=8.0 * n * n * (1 + 2 * niters), seconds=time.perf_counter() - t0)
