"""Even-odd fields across ranks (mpiexec -n 2 and 4): the Schur operators (Wilson, clover, asqtad with its
three-site hops: three slices of ghost rows, two lanes of column ghosts) on every process grid, with the
halo overlapped with the interior rows or not, give bit for bit the single-rank result (every site's
arithmetic is the same; only reductions depend on the grid; Wilson's spin-projected faces in fixed point
round once more), and even-odd solves converge to the same solution."""

import numpy as np
import pytest
from mpi4py import MPI

from hpcmix.backends.numba_backend import NumbaBackend
from hpcmix.backends.numpy_backend import NumpyBackend
from hpcmix.fields.full import FullField
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import DOUBLE, HALF
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.cg import CG
from hpcmix.solvers.trlm import TRLM

DIMS = [8, 4, 4, 8]
GRIDS = {2: [[1, 1, 1, 2], [1, 2, 1, 1], [2, 1, 1, 1]], 4: [[1, 1, 2, 2], [2, 1, 1, 2], [1, 2, 2, 1]]}
#: asqtad's three-site hops need local extents of at least 3 in split directions (odd ones allowed in y, z, t)
ASQTAD_DIMS = [8, 6, 6, 8]
ASQTAD = (0.625, -0.05, -0.07, 0.02, -0.003, -0.08)
BACKENDS = [NumpyBackend] + ([NumbaBackend] if NumbaBackend.available()[0] else [])


def source():
    rng = np.random.default_rng(17)
    shape = tuple(DIMS[::-1]) + (4, 3)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def mhat_dagger_mhat(lattice, backend, precision, overlap, csw):
    """Mhat^dag Mhat b_e in ``precision`` on ``lattice``, as this rank's canonical array."""
    dirac = WilsonDirac(GaugeField.weak(lattice, 9, 0.3), 0.1, boundary=(1, -1, 1, -1), csw=csw)
    f = dirac.on_backend(backend)
    f.overlap = overlap
    op = f.at(precision, 12).schur(0)[0]
    x = f.import_field(lattice.scatter(source()))[0]
    y = op.adjoint()(op(x))
    return f.export_field(FullField(y, f.spaces[1].zeros_like(y)))


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("backend_cls", BACKENDS, ids=lambda c: c.name)
@pytest.mark.parametrize("precision", [DOUBLE, HALF], ids=lambda p: p.name)
@pytest.mark.parametrize("csw", [0.0, 1.0], ids=["wilson", "clover"])
def test_schur_on_every_grid_with_and_without_overlap(backend_cls, precision, csw):
    """Faces travel spin-projected to half spinors: exactly in IEEE precisions (the result is bit for bit the
    single-rank one), rounded to the precision once more in fixed point (to its rounding); with and without
    overlap always bit for bit."""
    backend = backend_cls()
    single = Lattice(DIMS, comm=MPI.COMM_SELF)
    reference = mhat_dagger_mhat(single, backend, precision, True, csw)
    for grid in GRIDS.get(MPI.COMM_WORLD.size, []):
        lattice = Lattice(DIMS, grid)
        got = [mhat_dagger_mhat(lattice, backend, precision, overlap, csw) for overlap in (True, False)]
        np.testing.assert_array_equal(got[0], got[1], err_msg=f"grid {grid}")
        want = lattice.scatter(reference)
        if precision.has_norm:
            assert np.abs(got[0] - want).max() <= 2e-4 * np.abs(want).max(), f"grid {grid}"
        else:
            np.testing.assert_array_equal(got[0], want, err_msg=f"grid {grid}")


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("backend_cls", BACKENDS, ids=lambda c: c.name)
def test_mixed_solve_across_ranks(backend_cls):
    lattice = Lattice(DIMS)
    dirac = WilsonDirac(GaugeField.weak(lattice, 9, 0.3), 0.1, csw=1.0)
    f = dirac.on_backend(backend_cls())
    b = lattice.scatter(source())
    res = EvenOdd(CG(tol=1e-10, sloppy="half", reconstruct_sloppy=12))(f).solve(f.import_field(b))
    x = f.export_field(res.x)
    assert res.converged
    assert np.sqrt(lattice.norm2(b - dirac.M(x)) / lattice.norm2(b)) <= 1e-10


def asqtad_normal(lattice, backend, precision, overlap):
    """(4 m^2 - D_eo D_oe) b_e in ``precision`` on ``lattice``, as this rank's canonical array."""
    dirac = StaggeredDirac(GaugeField.weak(lattice, 9, 0.3), 0.1, boundary=(1, -1, 1, -1), coefficients=ASQTAD)
    f = dirac.on_backend(backend)
    f.overlap = overlap
    op = f.at(precision).normal_operator(0)
    rng = np.random.default_rng(5)
    shape = tuple(ASQTAD_DIMS[::-1]) + (3,)
    b = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    y = op(f.import_field(lattice.scatter(b))[0])
    return f.export_field(FullField(y, f.spaces[1].zeros_like(y)))


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("backend_cls", BACKENDS, ids=lambda c: c.name)
@pytest.mark.parametrize("precision", [DOUBLE, HALF], ids=lambda p: p.name)
def test_asqtad_bitwise_on_every_grid_with_and_without_overlap(backend_cls, precision):
    backend = backend_cls()
    reference = asqtad_normal(Lattice(ASQTAD_DIMS, comm=MPI.COMM_SELF), backend, precision, True)
    for grid in GRIDS.get(MPI.COMM_WORLD.size, []):
        lattice = Lattice(ASQTAD_DIMS, grid)
        for overlap in (True, False):
            got = asqtad_normal(lattice, backend, precision, overlap)
            np.testing.assert_array_equal(got, lattice.scatter(reference), err_msg=f"grid {grid} overlap {overlap}")


@pytest.mark.mpi(min_size=2)
def test_eigenvalues_across_ranks():
    """TRLM on the even-odd clover normal operator (the fastest backend here): every process grid gives the
    single-rank eigenvalues."""
    backend = BACKENDS[-1]()

    def lowest(lattice):
        dirac = WilsonDirac(GaugeField.weak(lattice, 9, 0.3), 0.05, csw=1.0)
        return TRLM(3, 12, tol=1e-10).solve(dirac.on_backend(backend).schur(0)[0].normal()).eigenvalues

    reference = lowest(Lattice(DIMS, comm=MPI.COMM_SELF))
    for grid in GRIDS.get(MPI.COMM_WORLD.size, [])[1:]:           # x split among them
        got = lowest(Lattice(DIMS, grid))
        assert np.abs(got - reference).max() <= 1e-9 * reference.max(), grid     # reductions differ in order
