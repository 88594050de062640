"""The lattice's BLAS-1 reference operations that the solvers route their vector updates through:
each gives exactly (bitwise) what the numpy expression it replaces gives, in the type of the
in-place operand, and ``convert`` rounds as the operators' ``store`` does."""

import numpy as np
import pytest

from hpcmix.lattice import Lattice
from hpcmix.operators.precision_view import store
from hpcmix.precision import DOUBLE, HALF, QUARTER, SINGLE
from lattice_helpers import random_spinor

LATTICE = Lattice([4, 4, 4, 4])


def fields(dtype):
    return [random_spinor(LATTICE, seed).astype(dtype) for seed in (1, 2, 3)]


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
@pytest.mark.parametrize("a", [0.37, 0.37 - 1.21j])
def test_in_place_updates_match_the_expressions(dtype, a):
    sp = LATTICE
    x, y, z = fields(dtype)
    for op, expected, args in [
            (sp.axpy, y + a * x, (a, x)), (sp.caxpy, y - a * x, (-a, x)), (sp.xpay, x + a * y, (x, a))]:
        out = y.copy()
        assert op(*args, out) is out and out.dtype == dtype and np.array_equal(out, expected)
    out = z.copy()
    assert sp.axpbypz(a, x, 2 * a, y, out) is out and np.array_equal(out, z + (a * x + 2 * a * y))
    out = y.copy()
    n2 = sp.axpy_norm2(-a, x, out)
    assert np.array_equal(out, y - a * x) and n2 == sp.norm2(y - a * x) and isinstance(n2, float)


@pytest.mark.parametrize("precision", [DOUBLE, SINGLE, HALF, QUARTER])
def test_convert_rounds_as_store(precision):
    x = random_spinor(LATTICE, 4)
    out = LATTICE.convert(x, precision)
    assert out is not x and out.dtype == precision.compute_dtype and np.array_equal(out, store(precision, x))
    wide = LATTICE.convert(x, precision, np.complex128)
    assert wide.dtype == np.complex128 and np.array_equal(wide, out)


def test_copy_and_zeros():
    x = random_spinor(LATTICE, 5)
    c = LATTICE.copy(x)
    assert c is not x and np.array_equal(c, x)
    assert LATTICE.copy(x.astype(np.complex64), np.complex128).dtype == np.complex128
    z = LATTICE.zeros_like(x, np.complex64)
    assert z.shape == x.shape and z.dtype == np.complex64 and not np.any(z)
