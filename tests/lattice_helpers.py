"""Small builders shared by the tests."""

import numpy as np

from hpcmix.fields import GaugeField
from hpcmix.fields.su3 import random_su3
from hpcmix.lattice import Lattice


def global_random(shape, seed):
    """A complex Gaussian array of ``shape`` (real parts drawn first, then imaginary parts)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def random_spinor(lattice, seed=0, shape=(4, 3)):
    """A complex Gaussian field, the same for every process grid (drawn globally, then scattered)."""
    return lattice.scatter(global_random(lattice.global_shape + shape, seed))


def random_gauge_transform(lattice, seed=7):
    rng = np.random.default_rng(seed)
    return lattice.scatter(random_su3(rng, lattice.global_shape))


def weak_gauge(dims=(4, 4, 4, 8), seed=3, epsilon=0.25, **kw):
    lattice = Lattice(list(dims), **kw)
    return GaugeField.weak(lattice, seed, epsilon)


def dense_even(op, lattice, site_shape=(4, 3)):
    """(the dense matrix of ``op`` on the even sites of one rank's canonical fields, built column by column,
    the boolean mask of those components in a canonical array)."""
    even = np.broadcast_to((lattice.parity == 0)[(...,) + (None,) * len(site_shape)], lattice.shape + site_shape)
    columns = []
    for index in np.argwhere(even):
        e = np.zeros(lattice.shape + site_shape, complex)
        e[tuple(index)] = 1.0
        columns.append(op(e)[even])
    return np.array(columns).T, even
