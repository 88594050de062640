"""Backend kernels on the even-odd row layout against the canonical (numpy) Wilson operator.

Every backend that loads is tested (the ``backend`` fixture of conftest.py; numba compiles each kernel
variant once, cached on disk), in every precision and link compression, with boundary phases in y and t.
"""

import numpy as np
import pytest

from hpcmix.backends.numba_backend import NumbaBackend
from hpcmix.backends.numpy_backend import NumpyBackend
from hpcmix.backends import reference
from hpcmix.backends.reference import GAMMA
from hpcmix.fields.field import Field
from hpcmix.fields.gauge import GaugeField
from hpcmix.fields.halo import Halo
from hpcmix.fields.layout import EvenOddLayout
from hpcmix.fields.links import RowLinks
from hpcmix.lattice import Lattice
from hpcmix.operators.gamma import GAMMA as CANONICAL_GAMMA
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import DOUBLE, HALF, QUARTER, SINGLE

needs_numba = pytest.mark.skipif(not NumbaBackend.available()[0], reason="numba does not load here")
# (precision, reconstruct, tolerance relative to max |D psi|): storage rounding of in- and output
CASES = [(DOUBLE, 18, 1e-14), (DOUBLE, 8, 1e-13), (SINGLE, 12, 1e-6), (HALF, 12, 1e-4), (QUARTER, 18, 3e-2)]


@pytest.fixture(scope="module")
def setup():
    lattice = Lattice([4, 6, 2, 6])
    gauge = GaugeField.weak(lattice, 7, 0.3)
    dirac = WilsonDirac(gauge, 0.1, boundary=(1, -1, 1, -1))
    rng = np.random.default_rng(1)
    psi = rng.standard_normal(lattice.shape + (4, 3)) + 1j * rng.standard_normal(lattice.shape + (4, 3))
    return lattice, gauge, dirac, psi, EvenOddLayout(lattice)


def test_kernel_gamma_blocks_are_degrand_rossi():
    assert np.array_equal(GAMMA, CANONICAL_GAMMA)


def test_layout_round_trip_and_parities(setup):
    lattice, _, _, psi, layout = setup
    back = np.zeros_like(psi)
    for p in (0, 1):
        f = Field.from_canonical(layout, p, DOUBLE, psi, NumpyBackend())
        f.to_canonical(back, (4, 3))
        t, z, y, x = layout.site_index(p)
        assert np.all((x + y + z + t) % 2 == p)
    assert np.array_equal(back, psi)


@pytest.mark.parametrize("precision,reconstruct,tol", CASES, ids=lambda v: getattr(v, "name", str(v)))
def test_wilson_hop_matches_canonical_operator(setup, backend, precision, reconstruct, tol):
    lattice, gauge, dirac, psi, layout = setup
    links = RowLinks.wilson(layout, gauge.U, precision, reconstruct, dirac.boundary, backend)
    for p in (0, 1):
        src = Field.from_canonical(layout, 1 - p, precision, psi, backend)
        stored = src.to_canonical(np.zeros_like(psi), (4, 3))            # the input as the kernel sees it
        expected = dirac.hop(stored) * (lattice.parity == p)[..., None, None]
        out = Field.zeros(layout, p, precision, 24, backend)
        backend.kernel("wilson_hop")(out, src, links, Halo(src).start().wait(), np.arange(layout.nrows, dtype=np.int32))
        got = out.to_canonical(np.zeros_like(psi), (4, 3))
        assert np.abs(got - expected).max() <= tol * np.abs(expected).max()
        assert np.all(got[lattice.parity != p] == 0)


@needs_numba
def test_numba_equals_numpy_reference_in_double(setup):
    _, gauge, dirac, psi, layout = setup
    results = []
    for backend in (NumpyBackend(), NumbaBackend()):
        links = RowLinks.wilson(layout, gauge.U, DOUBLE, 18, dirac.boundary, backend)
        src = Field.from_canonical(layout, 1, DOUBLE, psi, backend)
        out = Field.zeros(layout, 0, DOUBLE, 24, backend)
        backend.kernel("wilson_hop")(out, src, links, Halo(src).start().wait(), np.arange(layout.nrows, dtype=np.int32))
        results.append(out.local.copy())
    assert np.abs(results[0] - results[1]).max() <= 1e-14 * np.abs(results[0]).max()


@needs_numba
@needs_numba
@pytest.mark.parametrize("x,chunks", [(64, (16, 1, None)), (40, (8, 1, None)), (24, (16, 1, 12))],
                         ids=["wide", "short-last", "one-row-chunk"])
def test_wide_chunks_and_short_last_chunk(x, chunks):
    """Rows of 32 lanes in single: two full 16-lane chunks; rows of 20: two 8-lane chunks and a short one of 4
    (its copies are loops); rows of 12: one to a 16-lane chunk."""
    from hpcmix.backends.kernels.rowloop import lanes
    lattice = Lattice([x, 2, 2, 4])
    assert lanes(x // 2, "float32", False) == chunks
    gauge = GaugeField.weak(lattice, 3, 0.3)
    dirac = WilsonDirac(gauge, 0.1, boundary=(-1, 1, 1, -1))
    rng = np.random.default_rng(4)
    psi = rng.standard_normal(lattice.shape + (4, 3)) + 1j * rng.standard_normal(lattice.shape + (4, 3))
    layout = EvenOddLayout(lattice)
    backend = NumbaBackend()
    links = RowLinks.wilson(layout, gauge.U, SINGLE, 18, dirac.boundary, backend)
    src = Field.from_canonical(layout, 1, SINGLE, psi, backend)
    expected = dirac.hop(src.to_canonical(np.zeros_like(psi), (4, 3))) * (lattice.parity == 0)[..., None, None]
    out = Field.zeros(layout, 0, SINGLE, 24, backend)
    backend.kernel("wilson_hop")(out, src, links, Halo(src).start().wait(), layout.all_rows)
    got = out.to_canonical(np.zeros_like(psi), (4, 3))
    assert np.abs(got - expected).max() <= 1e-6 * np.abs(expected).max()


@pytest.mark.skipif(not NumbaBackend.available()[0], reason="numba not installed")
@pytest.mark.parametrize("precision", [DOUBLE, SINGLE, HALF], ids=lambda p: p.name)
def test_spin_projected_faces_equal_the_reference(setup, precision):
    """numba's face pack (half spinors h = psi_up + s B psi_down, encoded as the field stores) and unpack
    ([h; s B^dag h] halved, or the integers of h with half the norm) equal the numpy reference bit for bit
    in every direction, and the unpacked spinor projects back to h exactly."""
    _, _, _, psi, layout = setup
    numba = NumbaBackend()
    x = Field.from_canonical(layout, 0, precision, psi, numba)
    rows = np.array([0, 3, layout.nrows - 1], dtype=np.int32)
    for d in range(2, 8):
        want, got = reference.wilson_face_pack(x, rows, d), numba.wilson_face_pack(x, rows, d)
        np.testing.assert_array_equal(got[0], want[0])
        if precision.has_norm:
            np.testing.assert_array_equal(got[1], want[1])
        ghosts = [Field.zeros(layout, 1, precision, 24, numba) for _ in range(2)]
        reference.wilson_face_unpack(ghosts[0], slice(1, 4), *want, d)
        numba.wilson_face_unpack(ghosts[1], slice(1, 4), *got, d)
        np.testing.assert_array_equal(ghosts[0].data, ghosts[1].data)
        again = reference.wilson_face_pack(ghosts[1], np.arange(1, 4, dtype=np.int32), d)
        np.testing.assert_array_equal(again[0], got[0])


@needs_numba
def test_lane_copies_load_before_they_store_and_slp_is_restored():
    """The generated copies of a constant chunk write each lane out, every load before the first store (what
    the SLP vectorizer packs), a short row's runtime width keeps its loop; compiling switches numba's SLP
    vectorizer on and leaves its setting as it was."""
    from numba.core import config
    from hpcmix.backends.kernels import rowloop
    lines = rowloop._lanes(lambda l: f"wk[{l}]", lambda l: f"psi[0, {l}]", (1, 8), 8)
    assert lines[:7] == [f"t{l} = psi[0, {l}]" for l in range(1, 8)]
    assert lines[7:] == [f"wk[{l}] = t{l}" for l in range(1, 8)]
    assert rowloop._lanes(lambda l: f"wk[{l}]", lambda l: f"psi[0, {l}]", (0, "w"), "w") == [
        "for l in range(0, w):", "    wk[l] = psi[0, l]"]
    before = config.SLP_VECTORIZE
    with rowloop.slp_vectorization():
        assert config.SLP_VECTORIZE == 1
    assert config.SLP_VECTORIZE == before
