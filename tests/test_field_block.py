"""Blocks of fields (the subspaces deflation and multigrid keep) on every backend: the block inner products
and linear combinations equal the one-field kernels applied field by field (bitwise for the combination,
whose float64 operations come in the same order; to rounding for the sums), in every storage precision,
and a block member is a field the operators take. The blocks of whole-lattice fields (FullSpace) and of
canonical arrays (Lattice): block_inner, block_lincomb and block_times equal numpy's on the exported
arrays, store rounds to the block's precision, take and assign move fields as stored."""

import numpy as np
import pytest

from hpcmix.errors import HpcmixError
from hpcmix.fields.block import block_times
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import DOUBLE, HALF, SINGLE
from lattice_helpers import random_spinor


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


def check_against_numpy(sp, export, block, x, rng):
    """``block`` (5 fields of space ``sp``, filled) and field ``x`` against numpy on their exported arrays:
    block_inner to rounding, block_lincomb and block_times to the rounding of the field written, take and
    assign exactly."""
    V, xv = np.stack([export(block[i]) for i in range(5)]).astype(complex), export(x).astype(complex)
    want = V.reshape(5, -1).conj() @ xv.ravel()
    assert np.abs(sp.block_inner(block, x) - want).max() <= 1e-12 * np.abs(want).max()
    u = max(block.precision.unit_roundoff, np.finfo(np.complex64).eps / 2)   # canonical half: complex64
    coeffs = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    for accumulate in (False, True):
        out = sp.block_lincomb(sp.copy(x), coeffs, block, accumulate)
        ref = np.tensordot(coeffs, V, axes=1) + (xv if accumulate else 0)
        assert np.linalg.norm(export(out) - ref) <= 4 * u * np.linalg.norm(ref)
    Q = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
    W = block_times(sp, block, Q)
    assert len(W) == 3 and W.precision is block.precision
    ref = np.tensordot(Q.T, V[:4], axes=1)
    assert np.linalg.norm(np.stack([export(W[i]) for i in range(3)]) - ref) <= 4 * u * np.linalg.norm(ref)
    block.assign(1, block.take([3, 0]))
    np.testing.assert_array_equal(np.stack([export(block[i]) for i in range(5)]), V[[0, 3, 0, 3, 4]])
    np.testing.assert_array_equal(export(block.part(3, 5)[0]), V[3])


@pytest.mark.parametrize("precision", [DOUBLE, SINGLE, HALF], ids=lambda p: p.name)
def test_whole_lattice_blocks(backend, precision):
    """FullSpace: each parity's block kernels, the inner products summed over both."""
    f = WilsonDirac(GaugeField.weak(Lattice([4, 4, 2, 4]), 2, 0.3), 0.1).on_backend(backend)
    sp, rng = f.space, np.random.default_rng(7)
    block = sp.block(5, precision)
    for i in range(5):
        v = block.store(i, 2.0, sp.random_like(block[0], rng))
        assert v[0].precision is v[1].precision is precision
    x = sp.convert(sp.random_like(block[0], rng), precision)
    check_against_numpy(sp, f.export_field, block, x, rng)
    assert np.sqrt(sp.norm2(f.at(precision).operator()(block[2]))) > 0     # a member is a whole field


@pytest.mark.parametrize("precision", [DOUBLE, SINGLE, HALF], ids=lambda p: p.name)
def test_canonical_blocks(precision):
    """Lattice: one array [n, t, z, y, x, 4, 3] of the precision's compute dtype, shaped by the first field
    stored, each stored field rounded as Lattice.convert rounds it."""
    lattice, rng = Lattice([4, 4, 2, 4]), np.random.default_rng(8)
    block = lattice.block(5, precision)
    with pytest.raises(HpcmixError, match="no fields before one is stored"):
        block[0]
    for i in range(5):
        w = random_spinor(lattice, i)
        np.testing.assert_array_equal(block.store(i, 2.0, w), lattice.convert(2.0 * w, precision))
    assert block.data.shape == (5,) + lattice.shape + (4, 3) and block.data.dtype == precision.compute_dtype
    x = lattice.convert(random_spinor(lattice, 9), precision)
    check_against_numpy(lattice, np.asarray, block, x, rng)
