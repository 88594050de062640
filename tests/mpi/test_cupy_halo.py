"""The ``cupy`` backend across ranks (run under numba-cuda's simulator by
tests/test_cupy_backend.py::test_halos_under_the_simulator, or on GPUs with ``mpiexec -n 2 pytest --with-mpi
-m gpu``): Wilson (spin-projected faces) and asqtad (three-site faces) hopping terms and an even-odd
half-precision CG on process grids that split t, and x (column ghosts across ranks), equal the numpy
backend's on the same grid; here they skip."""

import numpy as np
import pytest
from mpi4py import MPI

from hpcmix.backends.cupy_backend import CupyBackend
from hpcmix.backends.numpy_backend import NumpyBackend
from hpcmix.fields.field import Field
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import DOUBLE, HALF
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.cg import CG

ON_DEVICE, WHY = CupyBackend.available()
pytestmark = [pytest.mark.gpu, pytest.mark.mpi(min_size=2), pytest.mark.skipif(not ON_DEVICE, reason=WHY),
              pytest.mark.skipif(MPI.COMM_WORLD.size != 2, reason="the process grids below are of 2 ranks")]
#: lattices whose local extents on the grids below hold Wilson's one-site and asqtad's three-site hops
DIMS = {"wilson": [4, 4, 4, 4], "asqtad": [8, 4, 4, 8]}
GRIDS = [[1, 1, 1, 2], [2, 1, 1, 1]]
ASQTAD = (0.625, -1 / 24, -1 / 16, 1 / 64, -1 / 384, -1 / 16)


def global_spinors(dims, shape, seed):
    rng = np.random.default_rng(seed)
    full = tuple(dims[::-1]) + shape
    return rng.standard_normal(full) + 1j * rng.standard_normal(full)


@pytest.mark.parametrize("grid", GRIDS, ids=["t", "x"])
@pytest.mark.parametrize("kind,precision", [("wilson", DOUBLE), ("wilson", HALF), ("asqtad", HALF)],
                         ids=["wilson-double", "wilson-half", "asqtad-half"])
def test_hop_across_ranks_agrees_with_numpy(grid, precision, kind):
    lattice = Lattice(DIMS[kind], grid)
    gauge = GaugeField.weak(lattice, 7, 0.3)
    if kind == "wilson":
        dirac, shape = WilsonDirac(gauge, 0.2), (4, 3)
    else:
        dirac, shape = StaggeredDirac(gauge, 0.1, coefficients=ASQTAD), (3,)
    tol = {"double": 1e-14, "half": 1e-4}
    b, got = lattice.scatter(global_spinors(DIMS[kind], shape, 3)), []
    for backend in (NumpyBackend(), CupyBackend()):
        f = dirac.on_backend(backend).at(precision, 18)
        out = f.hop(Field.from_canonical(f.layout, 1, precision, b, backend))
        got.append(out.to_canonical(np.zeros_like(b), shape))
    scale = lattice.pg.max(float(np.abs(got[0]).max()))
    assert lattice.pg.max(float(np.abs(got[1] - got[0]).max())) <= tol[precision.name] * scale


@pytest.mark.parametrize("grid", GRIDS, ids=["t", "x"])
def test_evenodd_cg_across_ranks_agrees_with_numpy(grid):
    lattice = Lattice(DIMS["wilson"], grid)
    dirac = WilsonDirac(GaugeField.weak(lattice, 7, 0.3), 1.0)
    b, got = lattice.scatter(global_spinors(DIMS["wilson"], (4, 3), 5)), []
    for backend in (NumpyBackend(), CupyBackend()):
        f = dirac.on_backend(backend)
        res = EvenOdd(CG(tol=1e-9, sloppy="half", reconstruct_sloppy=12))(f).solve(f.import_field(b))
        assert res.converged
        got.append((f.export_field(res.x), res.iterations))
    assert got[1][1] == got[0][1]
    assert lattice.pg.max(float(np.abs(got[1][0] - got[0][0]).max())) <= 1e-10 * lattice.pg.max(
        float(np.abs(got[0][0]).max()))
