"""Mixed precision on the distributed lattice: operators in half and quarter precision (halos in
storage format, 3-hop staggered ones across several ranks) are bitwise identical to one rank, and a
double-half CG solve takes the same iterations and reliable updates and agrees to tolerance."""

import numpy as np
import pytest
from mpi4py import MPI

from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.asqtad_links import asqtad_coefficients
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import HALF, QUARTER
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.cg import CG

from lattice_helpers import global_random

DIMS = [4, 4, 4, 8]
#: Grids that split every direction somewhere (local extents of 2 in z and t with 4 ranks).
GRIDS = {2: [[1, 1, 1, 2], [2, 1, 1, 1]], 4: [[1, 1, 2, 2], [2, 2, 1, 1]]}
TOL = 1e-10


def grids():
    return GRIDS.get(MPI.COMM_WORLD.size, [])


def clover(lattice):
    return WilsonDirac(GaugeField.weak(lattice, 31, 0.4), -0.3, csw=1.0)


def asqtad(lattice):
    return StaggeredDirac(GaugeField.weak(lattice, 32, 0.3), 0.1, coefficients=asqtad_coefficients(0.8))


def naive(lattice):
    return StaggeredDirac(GaugeField.weak(lattice, 33, 0.3), 0.1)


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("make,inner,reconstruct", [(clover, (4, 3), 12), (asqtad, (3,), 18), (naive, (3,), 8)],
                         ids=["clover", "asqtad", "naive"])
@pytest.mark.parametrize("precision", [HALF, QUARTER], ids=lambda p: p.name)
def test_operator_in_precision_is_bitwise_identical(make, inner, reconstruct, precision):
    serial = make(Lattice(DIMS, comm=MPI.COMM_SELF))
    psi = global_random(tuple(DIMS[::-1]) + inner, 5)
    expect = serial.operator(precision, reconstruct)(psi)
    expect_schur = serial.schur(0, precision, reconstruct)[0](psi * serial.parity_mask(0))
    for grid in grids():
        lattice = Lattice(DIMS, grid)
        d = make(lattice)
        local = lattice.scatter(psi)
        assert np.array_equal(d.operator(precision, reconstruct)(local), lattice.scatter(expect))
        schur = d.schur(0, precision, reconstruct)[0]
        assert np.array_equal(schur(local * d.parity_mask(0)), lattice.scatter(expect_schur))


@pytest.mark.mpi(min_size=2)
def test_double_half_cg_agrees_with_one_rank():
    b = global_random(tuple(DIMS[::-1]) + (4, 3), 6)
    solver = CG(tol=TOL, sloppy="half", reconstruct_sloppy=12)
    serial = EvenOdd(solver)(clover(Lattice(DIMS, comm=MPI.COMM_SELF))).solve(b)
    assert serial.converged and serial.reliable_updates > 0
    for grid in grids():
        lattice = Lattice(DIMS, grid)
        res = EvenOdd(CG(tol=TOL, sloppy="half", reconstruct_sloppy=12))(clover(lattice)).solve(lattice.scatter(b))
        assert res.converged and res.true_residual <= TOL
        assert (res.iterations, res.reliable_updates) == (serial.iterations, serial.reliable_updates)
        x = lattice.scatter(serial.x)
        assert lattice.pg.max(float(np.abs(res.x - x).max())) <= 1e-9 * np.abs(serial.x).max()
