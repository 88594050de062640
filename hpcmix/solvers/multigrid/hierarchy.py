"""The multigrid setup: for each level in turn, near-null vectors of its operator, the transfer P built from them
on the level's blocks, and the Galerkin coarse operator P^dag A P, which is the operator of the next level.

``Hierarchy(fields, levels, ...)`` with ``levels = [{"block": [bx, by, bz, bt], "n_vec": n}, ...]`` (finest
first) builds len(levels) coarse levels below the Wilson(-clover) operator ``fields``. ``levels[i]`` of the
result holds the fine side of coarsening i (``fine``: the level adapter of :mod:`.levels`), its ``transfer``,
its ``coarse`` operator (double) and ``stats`` (setup times and iterations; the K-cycle adds the coarse
operator's storage in its precision, cycle counts, coarse iterations and time, fine operator applications and
time).

Where the levels come from (``origin``), with ``saved`` a setup read back from a file
(:class:`~.persistence.SavedSetup`, or None):

- "built": no saved setup; random starts (``seed``) relaxed by ``setup_solver``, P and P^dag A P computed;
- "loaded": a saved setup and no ``setup_solver``; its P and coarse operators as saved (bitwise);
- "refreshed": a saved setup and a ``setup_solver`` (a changed gauge field): the saved P's vectors
  (:meth:`~.transfer.Transfer.vectors`) relaxed again against this operator, P and P^dag A P recomputed.

``null_vector_seconds`` and ``coarse_operator_seconds`` are the time each part took, read or computed.
"""

import time
from dataclasses import dataclass, field

from .blocks import Blocking
from .coarse import CoarseOperator
from .galerkin import galerkin
from .levels import CoarseLevel, WilsonLevel
from .nullspace import near_null_vectors, relax
from .transfer import Transfer

#: Per-level stats that are parts of the setup time.
SETUP_PARTS = ("null_vector_seconds", "coarse_operator_seconds", "coarsest_setup_seconds")


@dataclass
class Level:
    fine: object
    transfer: Transfer
    coarse: object
    stats: dict = field(default_factory=dict)


class Hierarchy:
    """The levels of a multigrid setup below ``fields`` (module doc); ``setup_solver`` relaxes the near-null
    vectors (a solver, applied to each level's operator in double), ``seed`` draws their random starts."""

    def __init__(self, fields, levels, setup_solver=None, seed=0, saved=None):
        self.origin = "built" if saved is None else "loaded" if setup_solver is None else "refreshed"
        self.file_seconds = 0.0       # setup files read and written, the operator's fingerprint (:mod:`.persistence`)
        self.levels = []
        self.finest = fine = WilsonLevel(fields)
        for i, spec in enumerate(levels):
            t0 = time.perf_counter()
            blocking = Blocking(fine.lattice, spec["block"], fine.dofs, i)
            iterations = 0
            if saved is None:
                vectors, iterations = near_null_vectors(fine, spec["n_vec"], setup_solver, seed, i)
            else:
                transfer = Transfer.from_basis(blocking, saved.basis(i, blocking, spec["n_vec"]))
                if setup_solver is not None:
                    vectors, iterations = relax(fine, transfer.vectors(), setup_solver)
            t1 = time.perf_counter()
            if self.origin == "loaded":
                X, Y = saved.coarse(i, blocking.coarse_lattice, transfer.coarse_dofs)
                coarse = CoarseOperator(blocking.coarse_lattice, X, Y, level=i + 1, backend=fine.backend)
            else:
                transfer = Transfer(blocking, vectors)
                coarse = galerkin(fine, transfer, i + 1)
            t2 = time.perf_counter()
            self.levels.append(Level(fine, transfer, coarse, {
                "null_vector_seconds": t1 - t0, "null_vector_iterations": iterations,
                "coarse_operator_seconds": t2 - t1, "coarse_dims": blocking.coarse_lattice.dims}))
            fine = CoarseLevel(coarse)

    @property
    def setup_seconds(self):
        return self.file_seconds + sum(lev.stats.get(k, 0.0) for lev in self.levels for k in SETUP_PARTS)
