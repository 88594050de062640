"""Blocks of fields (the subspaces deflation and multigrid keep) on every backend: the block inner products
and linear combinations equal the one-field kernels applied field by field (bitwise for the combination,
whose float64 operations come in the same order; to rounding for the sums), in every storage precision,
and a block member is a field the operators take."""

import numpy as np
import pytest

from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import DOUBLE, HALF, SINGLE



@pytest.mark.parametrize("precision", [DOUBLE, SINGLE, HALF], ids=lambda p: p.name)
def test_block_kernels_equal_field_by_field(backend, precision):
    lattice = Lattice([4, 4, 2, 4])
    f = WilsonDirac(GaugeField.weak(lattice, 2, 0.3), 0.1).on_backend(backend)
    sp = f.spaces[0]
    rng = np.random.default_rng(6)
    block = sp.block(5, precision)
    for i in range(len(block)):
        sp.lincomb(block[i], (1.0,), (sp.random_like(block[0], rng),))
    x = sp.convert(sp.random_like(block[0], rng), precision)
    got = sp.block_inner(block, x)
    want = np.array([sp.inner(block[i], x) for i in range(len(block))])
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()
    coeffs = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    for accumulate in (False, True):
        out, ref = sp.copy(x), sp.copy(x)
        sp.block_lincomb(out, coeffs, block, accumulate)
        sp.lincomb(ref, tuple(coeffs) + ((1.0,) if accumulate else ()),
                   tuple(block[i] for i in range(5)) + ((x,) if accumulate else ()))
        if accumulate:      # out + sum c_i v_i against sum c_i v_i + out: equal to rounding
            assert np.sqrt(sp.norm2(sp.axpy(-1.0, ref, sp.copy(out, np.complex128))) / sp.norm2(ref)) <= 2e-4
        else:
            np.testing.assert_array_equal(out.local, ref.local)
    assert np.sqrt(f.spaces[1].norm2(f.at(precision).hop(block[2]))) > 0     # a member is a field
