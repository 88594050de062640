"""Whole-lattice systems on every backend's fields (both parities as one FullField): M and M^dag of
Wilson-clover and asqtad against the canonical numpy operators, unpreconditioned solves of M x = b in
uniform and mixed precision checked by their true residual on canonical arrays, and the propagator stage's
Wilson M^dag M solve, which runs there too."""

from types import SimpleNamespace

import numpy as np
import pytest

from hpcmix.fields.gauge import GaugeField
from hpcmix.fields.layout import unsupported
from hpcmix.lattice import Lattice
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.solvers.bicgstab import BiCGstab
from hpcmix.solvers.cg import CG
from hpcmix.solvers.gcr import GCR
from hpcmix.stages.propagator import OnFields, PropagatorStage

ASQTAD = (0.625, -0.05, -0.07, 0.02, -0.003, -0.08)


@pytest.fixture(scope="module")
def setup():
    lattice = Lattice([4, 4, 2, 6])
    return lattice, GaugeField.weak(lattice, 3, 0.4)


def operators(gauge):
    return [(WilsonDirac(gauge, 0.2, boundary=(1, -1, 1, -1), csw=1.0), (4, 3)),
            (StaggeredDirac(gauge, 0.15, boundary=(1, 1, -1, -1), coefficients=ASQTAD), (3,))]


def test_full_operator_and_adjoint(setup, backend):
    lattice, gauge = setup
    rng = np.random.default_rng(4)
    for dirac, shape in operators(gauge):
        b = rng.standard_normal(lattice.shape + shape) + 1j * rng.standard_normal(lattice.shape + shape)
        f = dirac.on_backend(backend)
        m = f.operator()
        x = f.import_field(b)
        assert np.abs(f.export_field(m(x)) - dirac.M(b)).max() <= 1e-13 * np.abs(b).max()
        assert np.abs(f.export_field(m.adjoint()(x)) - dirac.Mdag(b)).max() <= 1e-13 * np.abs(b).max()


@pytest.mark.parametrize("solver", [CG(tol=1e-10, sloppy="half"), BiCGstab(tol=1e-10, sloppy="single"),
                                    GCR(tol=1e-10)], ids=lambda s: f"{s.name}-{s.sloppy}")
def test_unpreconditioned_solves(setup, backend, solver):
    lattice, gauge = setup
    rng = np.random.default_rng(5)
    for dirac, shape in operators(gauge):
        b = rng.standard_normal(lattice.shape + shape) + 1j * rng.standard_normal(lattice.shape + shape)
        f = dirac.on_backend(backend)
        res = solver(f.operator()).solve(f.import_field(b))
        x = f.export_field(res.x)
        assert res.converged
        assert np.sqrt(lattice.norm2(b - dirac.M(x)) / lattice.norm2(b)) <= 1e-10


def test_odd_extents_stay_on_canonical_arrays():
    """The row layout's parities need even global extents: a lattice with an odd one is refused by name."""
    assert "even global extents, got y = 3" in unsupported(Lattice([4, 3, 2, 2]))
    assert unsupported(Lattice([4, 4, 2, 2])) is None


def test_wilson_normal_equations_solve_on_fields(setup, backend):
    """A propagator stage's M^dag M x = b for Wilson-clover runs on the backend's fields (CG on the whole
    lattice's normal operator) and solves the canonical normal equations."""
    lattice, gauge = setup
    dirac = operators(gauge)[0][0]
    ctx = SimpleNamespace(lattice=lattice, backend=backend, log=lambda line: None)
    inverse = PropagatorStage.inverse(dirac, CG(tol=1e-10, sloppy="single"), {"solve": "MdagM", "evenodd": True}, ctx)
    assert isinstance(inverse, OnFields)
    b = np.random.default_rng(7).standard_normal(lattice.shape + (4, 3)) + 0j
    res = inverse.solve(b)
    r = b - dirac.Mdag(dirac.M(res.x))
    assert res.converged and np.sqrt(lattice.norm2(r) / lattice.norm2(b)) <= 1e-10
