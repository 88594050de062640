"""Rows of 8 lanes packed two to a 16-lane chunk (numba, float32-computing fields: local X = 16): the
Wilson and asqtad hops equal the canonical operators, on lattices whose thread blocks hold one row, or an
odd number of rows (a last chunk with one row of two)."""

import numpy as np
import pytest

from hpcmix.backends.kernels import rowloop
from hpcmix.backends.numba_backend import NumbaBackend
from hpcmix.fields.field import Field
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import HALF, SINGLE

pytestmark = pytest.mark.skipif(not NumbaBackend.available()[0], reason="numba not installed")


@pytest.mark.parametrize("dims", [[16, 2, 2, 2], [16, 2, 6, 22]], ids=["one-row-blocks", "odd-row-blocks"])
def test_packed_rows_match_canonical(dims):
    lattice = Lattice(dims)
    assert rowloop.lanes(lattice.local_dims[0] // 2, "float32", False) == (16, 2, 8)
    gauge = GaugeField.weak(lattice, 5, 0.4)
    rng = np.random.default_rng(2)
    cases = [(WilsonDirac(gauge, 0.1, boundary=(-1, 1, 1, -1)), (4, 3), SINGLE, 1e-6),
             (StaggeredDirac(gauge, 0.1, coefficients=(0.6, -0.05, -0.07, 0.02, -0.003, -0.08)), (3,), HALF, 1e-4)]
    for dirac, shape, precision, tol in cases:
        b = rng.standard_normal(lattice.shape + shape) + 1j * rng.standard_normal(lattice.shape + shape)
        f = dirac.on_backend(NumbaBackend()).at(precision)
        for p in (0, 1):
            src = Field.from_canonical(f.layout, 1 - p, precision, b, f.backend)
            stored = src.to_canonical(np.zeros_like(b), shape)
            expected = dirac.hop(stored) * (lattice.parity == p).reshape(lattice.shape + (1,) * len(shape))
            got = f.hop(src).to_canonical(np.zeros_like(b), shape)
            assert np.abs(got - expected).max() <= tol * np.abs(expected).max(), (type(dirac).__name__, p)
