"""Halo exchange of stored fields: low-precision data travel as stored (int16/int8 plus float32 norms)
and the shifted, decoded fields equal a single-rank computation bit for bit (mpiexec -n 2 and 4)."""

import numpy as np
import pytest
from mpi4py import MPI

from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.precision import DOUBLE, HALF, QUARTER, SINGLE

DIMS = [4, 4, 4, 8]
#: The automatic grid and grids that split x, y, z and t, so that every direction crosses ranks somewhere.
GRIDS = {2: [None, [2, 1, 1, 1]], 4: [None, [1, 1, 2, 2], [2, 2, 1, 1]]}
SHIFTS = [(mu, k) for mu in range(4) for k in (1, -1, 2)]


def grids():
    return GRIDS.get(MPI.COMM_WORLD.size, [None])


def global_field(inner, seed):
    """The same global field on every rank, site norms spread over 1e-4..1e4."""
    rng = np.random.default_rng(seed)
    shape = tuple(DIMS[::-1]) + inner
    x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return x * 10.0 ** rng.uniform(-4, 4, tuple(DIMS[::-1]) + (1,) * len(inner))


def assert_same(local, reference, lattice):
    """A distributed Stored equals this rank's part of the single-rank one, bit for bit."""
    assert local.data.dtype == reference.data.dtype == local.precision.storage_dtype
    np.testing.assert_array_equal(local.data, lattice.scatter(reference.data))
    if reference.norm is None:
        assert local.norm is None
    else:
        assert local.norm.dtype == np.float32
        np.testing.assert_array_equal(local.norm, lattice.scatter(reference.norm))
    np.testing.assert_array_equal(local.decode(), lattice.scatter(reference.decode()))


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("inner", [(4, 3), (3,)], ids=["wilson", "staggered"])
@pytest.mark.parametrize("prec", [HALF, QUARTER, SINGLE, DOUBLE], ids=lambda p: p.name)
def test_field_shift_bitwise(prec, inner):
    x = global_field(inner, seed=21)
    single = Lattice(DIMS, comm=MPI.COMM_SELF)
    reference = prec.encode(x)
    for grid in grids():
        lattice = Lattice(DIMS, grid)
        stored = prec.encode(lattice.scatter(x))
        assert_same(stored, reference, lattice)
        for mu, k in SHIFTS:
            assert_same(stored.shift(lattice, mu, k), reference.shift(single, mu, k), lattice)


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("prec", [HALF, QUARTER], ids=lambda p: p.name)
def test_overlapped_shifts(prec):
    """All eight neighbour shifts in flight at once (data and norms), then completed."""
    x = global_field((4, 3), seed=22)
    single = Lattice(DIMS, comm=MPI.COMM_SELF)
    reference = prec.encode(x)
    lattice = Lattice(DIMS)
    stored = prec.encode(lattice.scatter(x))
    pending = [(mu, k, stored.start_shift(lattice, mu, k)) for mu in range(4) for k in (1, -1)]
    for mu, k, handle in pending:
        assert_same(handle.wait(), reference.shift(single, mu, k), lattice)


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("reconstruct", [18, 12, 8])
@pytest.mark.parametrize("prec", [HALF, QUARTER], ids=lambda p: p.name)
def test_link_shift_bitwise(prec, reconstruct):
    single = Lattice(DIMS, comm=MPI.COMM_SELF)
    U = GaugeField.weak(single, seed=23).U
    reference = prec.encode_links(U, reconstruct)
    for grid in grids():
        lattice = Lattice(DIMS, grid)
        stored = prec.encode_links(lattice.scatter(U), reconstruct)
        assert_same(stored, reference, lattice)
        for mu, k in SHIFTS:
            assert_same(stored.shift(lattice, mu, k), reference.shift(single, mu, k), lattice)
