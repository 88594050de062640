"""Staggered operators on a distributed lattice agree with one rank: the asqtad fat and Naik links and
the operator bit for bit on every process grid (including local extents of 2, where the 3-hop shifts
and the 7-staple paths cross more than one neighbour), and the even-odd solve to rounding."""

import numpy as np
import pytest
from mpi4py import MPI

from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.asqtad_links import asqtad_coefficients
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.cg import CG

from lattice_helpers import global_random

DIMS = [4, 4, 4, 8]
GRIDS = {2: [[1, 1, 1, 2], [2, 1, 1, 1]], 4: [[1, 1, 2, 2], [2, 2, 1, 1], [1, 1, 1, 4]]}


def grids():
    return GRIDS.get(MPI.COMM_WORLD.size, [])


def asqtad(lattice):
    return StaggeredDirac(GaugeField.weak(lattice, 14, 0.3), 0.1, (1, 1, 1, -1), asqtad_coefficients(0.8))


@pytest.mark.mpi(min_size=2)
def test_asqtad_links_and_operator_are_bitwise_identical():
    serial = asqtad(Lattice(DIMS, comm=MPI.COMM_SELF))
    psi = global_random(tuple(DIMS[::-1]) + (3,), 3)
    for grid in grids():
        lattice = Lattice(DIMS, grid)
        d = asqtad(lattice)
        for mu in range(4):
            assert np.array_equal(d.fat[mu], lattice.scatter(serial.fat[mu]))
            assert np.array_equal(d.long[mu], lattice.scatter(serial.long[mu]))
        assert np.array_equal(d.M(lattice.scatter(psi)), lattice.scatter(serial.M(psi)))
        assert np.array_equal(d.Mdag(lattice.scatter(psi)), lattice.scatter(serial.Mdag(psi)))


@pytest.mark.mpi(min_size=2)
def test_even_odd_solve_agrees_across_process_grids():
    serial = asqtad(Lattice(DIMS, comm=MPI.COMM_SELF))
    b = global_random(tuple(DIMS[::-1]) + (3,), 4)
    x_serial = EvenOdd(CG(tol=1e-12))(serial)(b)
    lattice = Lattice(DIMS, grids()[-1])
    res = EvenOdd(CG(tol=1e-12))(asqtad(lattice)).solve(lattice.scatter(b))
    assert res.converged
    assert np.abs(res.x - lattice.scatter(x_serial)).max() <= 1e-10 * np.abs(x_serial).max()
