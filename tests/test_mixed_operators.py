"""Dirac operators in a storage precision: ``dirac.operator(precision, reconstruct)``, ``schur`` and
``normal_operator`` in single/half/quarter with reconstruct 18/12/8, fields rounded to storage,
arithmetic in the compute dtype, and ``LinearOperator.at`` through adjoints and normal operators."""

import numpy as np
import pytest

from hpcmix.errors import HpcmixError
from hpcmix.operators.asqtad_links import asqtad_coefficients
from hpcmix.operators.base import LinearOperator
from hpcmix.operators.precision_view import store
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import DOUBLE, HALF, QUARTER, SINGLE
from lattice_helpers import random_spinor, weak_gauge

PRECISIONS = [DOUBLE, SINGLE, HALF, QUARTER]
#: Relative error allowed for one operator application: 32 unit roundoffs (the input, the links, the
#: clover term, the hopping term's input and the output are stored; reconstruct 8 amplifies link errors).
BOUND = {p.name: max(32 * p.unit_roundoff, 1e-14) for p in PRECISIONS}


def rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def is_stored(x, precision):
    """Whether x is unchanged by storing it in ``precision`` (it is what a stored field decodes to)."""
    return np.array_equal(store(precision, x), x)


@pytest.fixture(scope="module")
def gauge():
    return weak_gauge(epsilon=0.4)


@pytest.mark.parametrize("reconstruct", [18, 12, 8])
@pytest.mark.parametrize("precision", PRECISIONS, ids=lambda p: p.name)
@pytest.mark.parametrize("csw", [0.0, 1.0], ids=["wilson", "clover"])
def test_wilson_in_precision(gauge, csw, precision, reconstruct):
    dirac = WilsonDirac(gauge, -0.2, csw=csw)
    x = random_spinor(gauge.lattice, 1)
    op = dirac.operator(precision, reconstruct)
    assert op.precision is precision and op.reconstruct == reconstruct
    y = op(x)
    assert y.dtype == precision.compute_dtype and is_stored(y, precision)
    assert rel(y, dirac.M(x)) <= BOUND[precision.name]
    assert rel(op.adjoint()(x), dirac.Mdag(x)) <= BOUND[precision.name]
    schur, _, _ = dirac.schur(1, precision=precision, reconstruct=reconstruct)
    xo = x * dirac.parity_mask(1)
    exact, _, _ = dirac.schur(1)
    assert rel(schur(xo), exact(xo)) <= BOUND[precision.name]
    assert np.abs(schur(xo) * dirac.parity_mask(0)).max() == 0  # stays on its parity
    # the view's clover term is stored in the precision too
    if csw and precision is HALF:
        view = dirac.at(HALF, reconstruct)
        assert view.clover.dtype == np.complex64 and is_stored(view.clover, HALF)


def test_views_are_built_once_and_at_round_trips(gauge):
    dirac = WilsonDirac(gauge, -0.2, csw=1.0)
    assert dirac.at(HALF, 12) is dirac.at(HALF, 12) and dirac.at(DOUBLE) is dirac
    op = dirac.operator()
    half = op.at(HALF, 12)
    assert half.precision is HALF and half.at(DOUBLE).name == "M" and half.at(HALF, 12) is half
    x = random_spinor(gauge.lattice, 2)
    np.testing.assert_array_equal(half.at(SINGLE)(x), dirac.operator(SINGLE)(x))
    # adjoint and normal operators carry ``at``
    normal = op.normal().at(HALF, 12)
    assert normal.hermitian and normal.precision is HALF
    np.testing.assert_array_equal(normal(x), half.adjoint()(half(x)))
    np.testing.assert_array_equal(op.adjoint().at(SINGLE)(x), dirac.operator(SINGLE).adjoint()(x))
    schur = dirac.schur(0)[0]
    np.testing.assert_array_equal(schur.at(QUARTER, 8)(x), dirac.schur(0, QUARTER, 8)[0](x))


def test_input_is_rounded_to_storage(gauge):
    """The operator reads its input as stored: inputs that store alike give identical outputs."""
    dirac = WilsonDirac(gauge, -0.2)
    x = random_spinor(gauge.lattice, 3)
    op = dirac.operator(HALF)
    np.testing.assert_array_equal(op(x), op(store(HALF, x)))
    assert not np.array_equal(op(x), op(store(SINGLE, x)))


def test_operator_without_factory_says_so(gauge):
    op = LinearOperator(gauge.lattice, lambda x: 2 * x, hermitian=True, name="twice")
    assert op.at(DOUBLE) is op
    with pytest.raises(HpcmixError, match="twice.*cannot be given in precision 'half'"):
        op.at(HALF)


@pytest.mark.parametrize("reconstruct", [18, 12, 8])
@pytest.mark.parametrize("precision", PRECISIONS, ids=lambda p: p.name)
def test_naive_staggered_in_precision(gauge, precision, reconstruct):
    """Naive staggered stores the unphased thin links, so every reconstruct applies."""
    dirac = StaggeredDirac(gauge, 0.1)
    x = random_spinor(gauge.lattice, 4, shape=(3,))
    op = dirac.operator(precision, reconstruct)
    y = op(x)
    assert y.dtype == precision.compute_dtype and is_stored(y, precision)
    assert rel(y, dirac.M(x)) <= 2 * BOUND[precision.name]
    xe = x * dirac.parity_mask(0)
    normal = dirac.normal_operator(0, precision, reconstruct)
    assert normal.hermitian and rel(normal(xe), dirac.normal(xe)) <= 2 * BOUND[precision.name]
    assert dirac.schur(0, precision, reconstruct)[0].precision is precision


@pytest.mark.parametrize("precision", [SINGLE, HALF, QUARTER], ids=lambda p: p.name)
def test_asqtad_in_precision(gauge, precision):
    """Fat and Naik links (entries above 1) are stored with one norm per link in fixed point."""
    dirac = StaggeredDirac(gauge, 0.1, coefficients=asqtad_coefficients(0.8))
    assert max(np.abs(w).max() for w in dirac.fat) > 1
    x = random_spinor(gauge.lattice, 5, shape=(3,))
    assert rel(dirac.operator(precision)(x), dirac.M(x)) <= 2 * BOUND[precision.name]
    with pytest.raises(HpcmixError, match="reconstruct 18"):
        dirac.operator(precision, 12)
