"""Adaptive multigrid on the distributed lattice (run under mpiexec -n 2 or 4 with --with-mpi), against one rank,
on process grids that split every direction somewhere (coarse local extents 1 and 2 included): the Galerkin
coarse operator built from the same null vectors, and applied with its halo exchange, is the same to rounding;
the whole setup and MG-GCR solve (the coarsest level by the dense LU, gathered from every rank) agree to the
solve's accuracy with the same outer iterations; a setup saved on one rank loads on the process grid, and one
saved on the grid loads on one rank, with the same coarse operators and the same solve to rounding."""

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from hpcmix.backends.numba_backend import NumbaBackend
from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass
from hpcmix.solvers.gcr import GCR
from hpcmix.solvers.multigrid import Multigrid, Transfer
from hpcmix.solvers.multigrid.blocks import Blocking
from hpcmix.solvers.multigrid.galerkin import galerkin
from hpcmix.solvers.multigrid.levels import CoarseLevel, WilsonLevel

from lattice_helpers import global_random

DIMS = [4, 4, 4, 8]
GRIDS = {2: [[1, 1, 1, 2], [2, 1, 1, 1]], 4: [[1, 1, 2, 2], [2, 2, 1, 1]]}
LEVELS = [{"block": [2, 2, 2, 2], "n_vec": 8}, {"block": [1, 1, 1, 2], "n_vec": 6}]
TOL = 1e-10


def grids():
    return GRIDS.get(MPI.COMM_WORLD.size, [])


def dirac(lattice):
    return WilsonDirac(GaugeField.weak(lattice, 9, 0.5), kappa_to_mass(0.15), boundary=(1, -1, 1, -1), csw=1.0)


def solve(lattice, b, setup=None, **keys):
    """(multigrid, the MG-GCR result with the solution as a canonical local array); ``setup``: its files;
    ``keys``: further multigrid keys."""
    f = dirac(lattice).on_backend(NumbaBackend())
    mg = Multigrid(levels=LEVELS, setup_maxiter=20, setup=setup, **keys)
    mg.setup(f)
    res = GCR(tol=TOL, nkrylov=16, maxiter=200, preconditioner=mg).solve(f.operator(), f.import_field(b))
    res.x = f.export_field(res.x)
    return mg, res


@pytest.fixture(scope="module")
def folder():
    """A temporary folder every rank sees (rank 0's)."""
    comm = MPI.COMM_WORLD
    path = Path(comm.bcast(tempfile.mkdtemp() if comm.rank == 0 else None))
    yield path
    comm.barrier()
    if comm.rank == 0:
        shutil.rmtree(path)


@pytest.fixture(scope="module")
def serial(folder):
    """(b, (multigrid, result)) on one rank, each rank's setup saved as serial<rank>.h5."""
    lattice = Lattice(DIMS, comm=MPI.COMM_SELF)
    b = global_random(lattice.global_shape + (4, 3), 12)
    return b, solve(lattice, b, {"save": str(folder / f"serial{MPI.COMM_WORLD.rank}.h5")})


def same_coarse(coarse, coarse1, tol):
    """Whether the distributed coarse operator equals the one-rank one (X, every Y, and applied) to ``tol``."""
    lat = coarse.lattice
    scale = np.abs(coarse1.X).max()
    pairs = [(coarse.X, coarse1.X)] + [(coarse.Y[mu][i], coarse1.Y[mu][i]) for mu in range(4) for i in range(2)]
    c = global_random(lat.global_shape + (coarse.dofs,), 13)
    pairs.append((coarse(lat.scatter(c)), coarse1(c)))
    return all(lat.pg.max(float(np.abs(a - lat.scatter(b)).max())) <= tol * scale for a, b in pairs)


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("index", range(2))
def test_galerkin_from_the_same_vectors_agrees_with_one_rank(serial, index):
    """The one rank's block basis as null vectors: the same P, and the same coarse stencil to rounding (the hops
    that leave a block cross ranks; the coarse stencil exchanges halos)."""
    if index >= len(grids()):
        pytest.skip("no such grid at this size")
    _, (mg1, _) = serial
    fine = WilsonLevel(dirac(Lattice(DIMS, grids()[index])).on_backend(NumbaBackend()))
    for i, level1 in enumerate(mg1.hierarchy.levels):
        w = level1.transfer.unit_vectors()                                # chirality +1 columns first
        n, lattice = level1.transfer.n_vec, fine.lattice
        vectors = [lattice.scatter(w[..., k] + w[..., n + k]) for k in range(n)]
        coarse = galerkin(fine, Transfer(Blocking(lattice, LEVELS[i]["block"], fine.dofs, i), vectors), i + 1)
        assert same_coarse(coarse, level1.coarse, 1e-13)
        fine = CoarseLevel(coarse)


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("index", range(2))
def test_multigrid_solve_agrees_with_one_rank(serial, index):
    """The whole setup and solve: the null vectors differ by rounding (reductions sum in another order), which
    the setup's BiCGstab amplifies to about 1e-9 in the coarse operators; the outer iterations are the same and
    the solutions agree to the solves' accuracy."""
    if index >= len(grids()):
        pytest.skip("no such grid at this size")
    b, (mg1, res1) = serial
    lattice = Lattice(DIMS, grids()[index])
    mg, res = solve(lattice, lattice.scatter(b))
    for level, level1 in zip(mg.hierarchy.levels, mg1.hierarchy.levels):
        assert same_coarse(level.coarse, level1.coarse, 1e-7)
    assert res.converged and res.true_residual <= TOL
    assert abs(res.iterations - res1.iterations) <= 1
    x1 = lattice.scatter(res1.x)
    assert lattice.pg.max(float(np.abs(res.x - x1).max())) <= 1e-8 * np.abs(res1.x).max()


def same_solve(res, res1, lattice, tol):
    """The same outer iterations, and solutions equal to ``tol`` relative to the largest entry."""
    x1 = lattice.scatter(res1.x)
    return res.iterations == res1.iterations and \
        lattice.pg.max(float(np.abs(res.x - x1).max())) <= tol * np.abs(res1.x).max()


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("index", range(2))
def test_setup_saved_on_one_rank_loads_on_the_grid(serial, folder, index):
    """The one-rank file read by every rank's hyperslab: the same coarse operators (stored values bitwise; applied
    to rounding) and the same solve to rounding (only the order of the global sums differs)."""
    if index >= len(grids()):
        pytest.skip("no such grid at this size")
    b, (mg1, res1) = serial
    lattice = Lattice(DIMS, grids()[index])
    mg, res = solve(lattice, lattice.scatter(b), {"load": str(folder / "serial0.h5")})
    assert mg.hierarchy.origin == "loaded"
    for level, level1 in zip(mg.hierarchy.levels, mg1.hierarchy.levels):
        assert same_coarse(level.coarse, level1.coarse, 1e-15)
    assert res.converged and same_solve(res, res1, lattice, 1e-11)


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("index", range(2))
def test_setup_saved_on_the_grid_loads_on_one_rank(serial, folder, index):
    """The file written by every rank's hyperslab in turn, read on one rank: the same coarse operators, the same
    solve to rounding."""
    if index >= len(grids()):
        pytest.skip("no such grid at this size")
    b, _ = serial
    lattice = Lattice(DIMS, grids()[index])
    path = str(folder / f"grid{index}.h5")
    mg, res = solve(lattice, lattice.scatter(b), {"save": path})
    one = Lattice(DIMS, comm=MPI.COMM_SELF)
    mg1, res1 = solve(one, b, {"load": path})
    assert mg1.hierarchy.origin == "loaded"
    for level, level1 in zip(mg.hierarchy.levels, mg1.hierarchy.levels):
        assert same_coarse(level.coarse, level1.coarse, 1e-15)
    assert res1.converged and same_solve(res, res1, lattice, 1e-11)


@pytest.mark.mpi(min_size=2)
def test_gcr_smoothing_agrees_with_one_rank(serial, folder):
    """GCR smoothing steps (global inner products on the fine and the coarse levels) from the one-rank setup:
    the same outer iterations and solution to rounding on the process grid (the first of each size's) as on
    one rank."""
    index = 0
    b, _ = serial
    load = {"load": str(folder / "serial0.h5")}
    _, res1 = solve(Lattice(DIMS, comm=MPI.COMM_SELF), b, load, smoother_kind="gcr", nu_post=6)
    lattice = Lattice(DIMS, grids()[index])
    _, res = solve(lattice, lattice.scatter(b), load, smoother_kind="gcr", nu_post=6)
    assert res.converged and res.true_residual <= TOL and same_solve(res, res1, lattice, 1e-11)
