"""The naive and asqtad staggered operators on every backend's fields against the canonical numpy operator
(an independent implementation on whole-lattice arrays): the hopping term in every storage precision and
link compression (three-site hops reaching two lanes and three rows away, wrapping on short local
extents), the even-odd Schur system, M^dag M, and whole solves in uniform and mixed precision."""

import numpy as np
import pytest

from hpcmix.backends.numba_backend import NumbaBackend
from hpcmix.backends.numpy_backend import NumpyBackend
from hpcmix.errors import HpcmixError
from hpcmix.fields.field import Field
from hpcmix.fields.gauge import GaugeField
from hpcmix.fields.layout import EvenOddLayout
from hpcmix.lattice import Lattice
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.precision import DOUBLE, HALF, SINGLE
from hpcmix.solvers import EvenOdd, EvenOddNormal
from hpcmix.solvers.cg import CG

#: MILC's asqtad path coefficients at u0 = 0.9 (one-link, Naik, 3-, 5-, 7-staple, Lepage)
ASQTAD = (0.625, -1 / (24 * 0.81), -1 / (16 * 0.81), 1 / (64 * 0.81 ** 2), -1 / (384 * 0.81 ** 3), -1 / (16 * 0.81 ** 2))
operators = pytest.mark.parametrize("coefficients", [None, ASQTAD], ids=["naive", "asqtad"])
TOL = {"double": 1e-14, "single": 1e-6, "half": 1e-4}


@pytest.fixture(scope="module")
def setup():
    """x extent 4: the three-site x hops reach both lanes of the column ghosts; y extent 2: three-site
    y hops wrap around the local extent."""
    lattice = Lattice([4, 2, 4, 6])
    gauge = GaugeField.weak(lattice, 5, 0.4)
    rng = np.random.default_rng(8)
    b = rng.standard_normal(lattice.shape + (3,)) + 1j * rng.standard_normal(lattice.shape + (3,))
    return lattice, gauge, b


def staggered(gauge, coefficients):
    return StaggeredDirac(gauge, 0.15, boundary=(1, -1, 1, -1), coefficients=coefficients)


@operators
@pytest.mark.parametrize("precision,reconstruct", [(DOUBLE, 18), (SINGLE, 18), (HALF, 18), (SINGLE, 12)],
                         ids=lambda v: getattr(v, "name", str(v)))
def test_hop_matches_canonical_operator(setup, backend, coefficients, precision, reconstruct):
    lattice, gauge, b = setup
    d = staggered(gauge, coefficients)
    if coefficients is not None and reconstruct != 18:
        with pytest.raises(HpcmixError, match="reconstruct 18"):
            d.on_backend(backend).at(precision, reconstruct)
        return
    f = d.on_backend(backend).at(precision, reconstruct)
    for p in (0, 1):
        src = Field.from_canonical(f.layout, 1 - p, precision, b, f.backend)
        stored = src.to_canonical(np.zeros_like(b), (3,))                 # the input as the kernel sees it
        expected = d.hop(stored) * d.parity_mask(p)
        got = f.hop(src).to_canonical(np.zeros_like(b), (3,))
        assert np.abs(got - expected).max() <= TOL[precision.name] * np.abs(expected).max()
        assert np.all(got[lattice.parity != p] == 0)


@pytest.mark.skipif(not NumbaBackend.available()[0], reason="numba not installed")
@operators
def test_numba_equals_numpy_reference(setup, coefficients):
    lattice, gauge, b = setup
    d = staggered(gauge, coefficients)
    out = [d.on_backend(cls()).at(SINGLE) for cls in (NumpyBackend, NumbaBackend)]
    got = [f.hop(Field.from_canonical(f.layout, 1, SINGLE, b, f.backend)).local for f in out]
    assert np.abs(got[0] - got[1]).max() <= 1e-6 * np.abs(got[0]).max()


@operators
def test_schur_system_and_normal_operator(setup, backend, coefficients):
    """Mhat = 4 m^2 - D_eo D_oe is Hermitian and equals M^dag M on even sites; the full M and M^dag are the
    canonical ones; prepare/reconstruct turn the Schur solution into the full one."""
    lattice, gauge, b = setup
    d = staggered(gauge, coefficients)
    f = d.on_backend(backend)
    rng = np.random.default_rng(2)
    c = rng.standard_normal(b.shape) + 1j * rng.standard_normal(b.shape)
    bf, cf = f.import_field(b), f.import_field(c)
    mhat, prepare, reconstruct = f.schur(0)
    assert abs(f.spaces[0].inner(cf[0], mhat(bf[0])) - f.spaces[0].inner(mhat(cf[0]), bf[0])) <= 1e-12 * lattice.volume
    expected = d.normal(d.parity_part(b, 0))
    assert np.abs(f.export_field(mhat(bf[0])) * d.parity_mask(0) - expected).max() <= 1e-12
    m = f.operator()
    assert np.abs(f.export_field(m(bf)) - d.M(b)).max() <= 1e-12
    assert np.abs(f.export_field(m.adjoint()(bf)) - d.Mdag(b)).max() <= 1e-12
    assert np.abs(f.export_field(f.normal_operator()(bf)) - d.normal(b)).max() <= 1e-11
    x = EvenOdd(CG(tol=1e-12))(f).solve(bf).x
    assert np.sqrt(lattice.norm2(b - d.M(f.export_field(x))) / lattice.norm2(b)) <= 1e-11
    assert f.export_field(reconstruct(x[0], bf))[lattice.parity == 1].std() > 0


@operators
@pytest.mark.parametrize("sloppy", ["double", "single", "half"])
def test_solves_match_canonical(setup, backend, coefficients, sloppy):
    """Even-odd CG for M x = b and for M^dag M x = b on the fields, uniform and mixed precision, reach the
    true residual (checked on canonical arrays) and the canonical solver's solution."""
    lattice, gauge, b = setup
    d = staggered(gauge, coefficients)
    f = d.on_backend(backend)
    for solver, system, apply in ((EvenOdd, "M", d.M), (EvenOddNormal, "MdagM", d.normal)):
        cg = CG(tol=1e-10, sloppy=sloppy, maxiter=2000)
        res = solver(cg)(f).solve(f.import_field(b))
        x = f.export_field(res.x)
        assert res.converged, system
        assert np.sqrt(lattice.norm2(b - apply(x)) / lattice.norm2(b)) <= 1e-10, system
        canonical = solver(CG(tol=1e-10))(d).solve(b)
        assert np.abs(x - canonical.x).max() <= 1e-8 * np.abs(x).max(), system
        if sloppy == "double":
            assert abs(res.iterations - canonical.iterations) <= 2, system


def test_layout_needs_room_for_three_site_hops():
    lattice = Lattice([2, 4, 4, 4])
    with pytest.raises(HpcmixError, match="local x extent of at least 4"):
        EvenOddLayout(lattice, 3)
    assert EvenOddLayout(lattice, 1).xh == 1
