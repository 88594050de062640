"""The multigrid setup: for each level in turn, near-null vectors of its operator, the transfer P built from them
on the level's blocks, and the Galerkin coarse operator P^dag A P, which is the operator of the next level.

``Hierarchy(fields, levels, ...)`` with ``levels = [{"block": [bx, by, bz, bt], "n_vec": n}, ...]`` (finest
first) builds len(levels) coarse levels below the Wilson(-clover) operator ``fields``. ``levels[i]`` of the
result holds the fine side of coarsening i (``fine``: the level adapter of :mod:`.levels`), its ``transfer``,
its ``coarse`` operator (double) and ``stats`` (setup times and iterations; the K-cycle adds the coarse
operator's storage in its precision, cycle counts, coarse iterations, fine operator applications and time).
"""

import time
from dataclasses import dataclass, field

from .blocks import Blocking
from .galerkin import galerkin
from .levels import CoarseLevel, WilsonLevel
from .nullspace import near_null_vectors
from .transfer import Transfer


@dataclass
class Level:
    fine: object
    transfer: Transfer
    coarse: object
    stats: dict = field(default_factory=dict)


class Hierarchy:
    """The levels of a multigrid setup below ``fields``; ``setup_solver`` relaxes the near-null vectors (a
    solver, applied to each level's operator in double), ``seed`` draws their random starts."""

    def __init__(self, fields, levels, setup_solver, seed=0):
        self.levels = []
        fine = WilsonLevel(fields)
        for i, spec in enumerate(levels):
            t0 = time.perf_counter()
            blocking = Blocking(fine.lattice, spec["block"], fine.dofs, i)
            vectors, iterations = near_null_vectors(fine, spec["n_vec"], setup_solver, seed, i)
            t1 = time.perf_counter()
            transfer = Transfer(blocking, vectors)
            coarse = galerkin(fine, transfer, i + 1)
            t2 = time.perf_counter()
            self.levels.append(Level(fine, transfer, coarse, {
                "null_vector_seconds": t1 - t0, "null_vector_iterations": iterations,
                "coarse_operator_seconds": t2 - t1, "coarse_dims": blocking.coarse_lattice.dims}))
            fine = CoarseLevel(coarse)

    @property
    def setup_seconds(self):
        return sum(lev.stats["null_vector_seconds"] + lev.stats["coarse_operator_seconds"] for lev in self.levels)
