"""Near-null vectors of a level's operator A: random vectors relaxed against A v = 0.

From a random x0 (complex Gaussian, drawn over the global lattice with ``default_rng([seed, level, k])`` and
scattered, so the same for every process grid), the setup solver is run on A e = A x0 from e = 0 (its
``tol`` and ``maxiter`` are the setup's); v = x0 - e has |A v| <= tol |A x0|: the error left is made of A's
low modes, which the Krylov solver reduces last. The finest level does this on its even-odd Schur system
(``level.relax``, :mod:`.levels`). Only the span of the v's matters (they are block orthonormalized next), so
no normalization is done here.
"""

import numpy as np


def random_vector(lattice, dofs, seed):
    """A complex Gaussian canonical array ``[T, Z, Y, X, dofs]``, drawn globally from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    shape = lattice.global_shape + (dofs,)
    return lattice.scatter(rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


def near_null_vectors(level, n_vec, solver, seed, index=0):
    """``n_vec`` near-null vectors of ``level`` (canonical arrays) relaxed by ``solver`` (e.g. BiCGstab with the
    setup's tol and maxiter) from random starts; ``index`` is the level's number (0 = finest). Returns (the
    vectors, the setup solver's iterations summed over them)."""
    starts = (random_vector(level.lattice, level.dofs, [seed, index, k]) for k in range(n_vec))
    return relax(level, starts, solver)


def relax(level, starts, solver):
    """The canonical arrays ``starts`` relaxed against A v = 0 on ``level`` by ``solver`` (module doc; a refresh
    relaxes a saved setup's vectors again). Returns (the vectors, the solver's iterations summed over them)."""
    vectors, iterations = [], 0
    for x0 in starts:
        v, its = level.relax(solver, level.from_array(x0))
        iterations += its
        vectors.append(level.to_array(v))
    return vectors, iterations
