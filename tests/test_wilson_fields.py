"""The Wilson(-clover) operators and even-odd solves on every backend's fields against the canonical
numpy operator (an independent implementation on whole-lattice arrays): the full M, the Schur complement
and its adjoint, prepare/reconstruct, gamma5-hermiticity, the fused BLAS-1 (bitwise equal to the numpy
reference), and whole solves in uniform and mixed precision, on every backend that loads (the ``backend``
fixture of conftest.py)."""

import numpy as np
import pytest

from hpcmix.backends.numba_backend import NumbaBackend
from hpcmix.backends.numpy_backend import NumpyBackend
from hpcmix.fields.full import FullField
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import DOUBLE, HALF, QUARTER, SINGLE
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.bicgstab import BiCGstab
from hpcmix.solvers.cg import CG
from hpcmix.solvers.defect_correction import DefectCorrection
from hpcmix.solvers.gcr import GCR
from hpcmix.solvers.mr import MR

operators = pytest.mark.parametrize("csw", [0.0, 1.0], ids=["wilson", "clover"])


@pytest.fixture(scope="module")
def setup():
    lattice = Lattice([4, 4, 2, 6])
    gauge = GaugeField.weak(lattice, 11, 0.4)
    rng = np.random.default_rng(3)
    b = rng.standard_normal(lattice.shape + (4, 3)) + 1j * rng.standard_normal(lattice.shape + (4, 3))
    return lattice, gauge, b


def dirac(gauge, csw):
    return WilsonDirac(gauge, 0.2, boundary=(1, -1, 1, -1), csw=csw)


def canonical(fields, parity_field, parity):
    """A half-lattice field as a canonical array (zero on the other parity)."""
    other = fields.spaces[1 - parity].zeros_like(parity_field)
    return fields.export_field(FullField(parity_field, other) if parity == 0 else FullField(other, parity_field))


@operators
def test_operators_match_canonical(setup, backend, csw):
    lattice, gauge, b = setup
    d = dirac(gauge, csw)
    f = d.on_backend(backend)
    B = f.import_field(b)
    scale = np.abs(d.M(b)).max()
    assert np.abs(f.export_field(f.operator()(B)) - d.M(b)).max() <= 1e-14 * scale
    for parity in (0, 1):
        op, prepare, reconstruct = f.schur(parity)
        cop, cprepare, creconstruct = d.schur(parity)
        xp = b * d.parity_mask(parity)
        x = B[parity]
        assert np.abs(canonical(f, op(x), parity) - cop(xp)).max() <= 1e-14 * scale
        assert np.abs(canonical(f, op.adjoint()(x), parity) - cop.adjoint()(xp)).max() <= 1e-14 * scale
        assert np.abs(canonical(f, prepare(B), parity) - cprepare(b)).max() <= 1e-14 * scale
        assert np.abs(f.export_field(reconstruct(x, B)) - creconstruct(xp, b)).max() <= 1e-14 * scale


@operators
@pytest.mark.parametrize("precision,reconstruct,tol", [(DOUBLE, 12, 1e-13), (SINGLE, 18, 3e-6), (HALF, 12, 2e-3)],
                         ids=["double12", "single18", "half12"])
def test_schur_in_precision_and_gamma5_hermiticity(setup, backend, csw, precision, reconstruct, tol):
    """Mhat in a storage precision is the double Mhat to the precision's rounding; <y, Mhat x> =
    <Mhat^dag y, x> (the adjoint is gamma5 Mhat gamma5 with the site term daggered)."""
    _, gauge, b = setup
    f = dirac(gauge, csw).on_backend(backend)
    B = f.import_field(b)
    sp = f.spaces[0]
    exact = f.schur(0)[0](B[0])
    op = f.at(precision, reconstruct).schur(0)[0]
    assert op.precision is precision and op.reconstruct == reconstruct
    got = op(B[0])
    assert got.precision is precision
    diff = sp.axpy(-1.0, exact, sp.copy(got, np.complex128))
    assert np.sqrt(sp.norm2(diff) / sp.norm2(exact)) <= tol
    y = sp.random_like(B[0], np.random.default_rng(5))
    exact_op = f.schur(0)[0]
    lhs, rhs = sp.inner(y, exact_op(B[0])), sp.inner(exact_op.adjoint()(y), B[0])
    assert abs(lhs - rhs) <= 1e-13 * abs(lhs)


@pytest.mark.skipif(not NumbaBackend.available()[0], reason="numba does not load here")
@pytest.mark.parametrize("precision", [DOUBLE, SINGLE, HALF, QUARTER], ids=lambda p: p.name)
def test_numba_blas_bitwise_equals_reference(setup, precision):
    """The fused kernels do the reference's float64 arithmetic operation for operation: stored results
    equal bit for bit, reductions to rounding."""
    _, gauge, b = setup
    results = []
    for backend in (NumpyBackend(), NumbaBackend()):
        f = dirac(gauge, 1.0).on_backend(backend)
        sp = f.spaces[1]
        x = sp.convert(f.import_field(b)[1], precision)
        y = sp.convert(sp.random_like(x, np.random.default_rng(2)), precision)
        n2 = sp.axpy_norm2(0.3 - 0.2j, x, z := sp.copy(y))
        w = sp.axpbypz(0.1, x, 0.2j, y, sp.copy(y, np.complex128))
        v = sp.xpay(x, 0.7, sp.copy(y))
        s = f.at(precision if precision is not QUARTER else HALF).site(x, inverse=True)
        results.append(([n2, sp.inner(x, y), sp.norm2(x)], [a.data.copy() for a in (z, w, v, s)],
                        [a.norm.copy() for a in (z, v) if a.norm is not None]))
    (red0, data0, norm0), (red1, data1, norm1) = results
    for a, c in zip(red0, red1):
        assert abs(a - c) <= 1e-14 * abs(a)
    for a, c in zip(data0 + norm0, data1 + norm1):
        np.testing.assert_array_equal(a, c)


@operators
@pytest.mark.parametrize("solver", [
    CG(tol=1e-10), CG(tol=1e-10, sloppy="half", reconstruct_sloppy=12), BiCGstab(tol=1e-10, sloppy="single"),
    GCR(tol=1e-10, sloppy="single", precision_preconditioner="half", preconditioner=MR(maxiter=4)),
    DefectCorrection(tol=1e-10, sloppy="half")], ids=["cg", "cg_half", "bicgstab_single", "gcr_mr", "defect_half"])
def test_evenodd_solve_on_fields(setup, backend, csw, solver):
    """An even-odd solve on fields reaches the tolerance on the full system (recomputed here with the
    canonical operator) and agrees with the canonical solve."""
    lattice, gauge, b = setup
    d = dirac(gauge, csw)
    f = d.on_backend(backend)
    res = EvenOdd(solver)(f).solve(f.import_field(b))
    x = f.export_field(res.x)
    assert res.converged
    assert np.sqrt(lattice.norm2(b - d.M(x)) / lattice.norm2(b)) <= 1e-10
    reference = EvenOdd(CG(tol=1e-12))(d).solve(b).x
    assert np.abs(x - reference).max() <= 1e-8 * np.abs(reference).max()


def test_overlap_gives_the_same_numbers(setup):
    """Interior rows first, boundary rows after the halo, gives what one pass over all rows gives (on one
    rank every row is interior; tests/mpi compares across process grids)."""
    _, gauge, b = setup
    f = dirac(gauge, 0.0).on_backend(NumpyBackend())
    x = f.import_field(b)[0]
    f.overlap = True
    a = f.hop(x).local.copy()
    f.overlap = False
    np.testing.assert_array_equal(a, f.hop(x).local)
