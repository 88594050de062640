"""MILC binary gauge files: the real samples, their checksums, corrupt files, and writing."""

import shutil

import numpy as np
import pytest

from hpcmix.errors import FormatError
from hpcmix.fields import GaugeField
from hpcmix.io.milc import HEADER_BYTES, MILCGaugeFormat, read_header
from hpcmix.io.warn import HpcmixWarning
from hpcmix.lattice import Lattice

MILC = MILCGaugeFormat()

#: file: (dims, byte order, plaquette measured by hpcmix)
SAMPLES = {
    "lat.sample.l4444": ([4, 4, 4, 4], "little", 0.594850158947),
    "lat.sample.l4448": ([4, 4, 4, 8], "big", 0.569055724369),
    "lat.sample.l4448.gf": ([4, 4, 4, 8], "big", 0.569055725854),
    "lat.sample.l6666": ([6, 6, 6, 6], "big", 0.660648253452),
    "lat.sample.l6666.hisq": ([6, 6, 6, 6], "little", 0.616691003407),
    "lat.sample.l8888": ([8, 8, 8, 8], "little", 0.593560240433),
}


def sample(shared_data, name):
    return shared_data / "gauge" / "milc" / name


def corrupt_copy(src, tmp_path, offset, xor=0x01, length=None):
    """A copy of ``src`` in tmp_path with one byte flipped at ``offset`` (negative: from the end),
    or cut to ``length`` bytes."""
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    data = bytearray(dst.read_bytes())
    if length is not None:
        data = data[:length]
    else:
        data[offset] ^= xor
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_reads_with_verified_checksum(shared_data, name):
    dims, order, plaquette = SAMPLES[name]
    path = sample(shared_data, name)
    assert MILC.sniff(path)
    assert MILC.read_dims(path) == dims
    gauge = MILC.read(path, Lattice(dims))
    assert gauge.metadata["byte_order"] == order
    assert gauge.metadata["plaquette"] == pytest.approx(plaquette, abs=1e-11)


def test_rewrite_is_byte_identical(shared_data, tmp_path):
    """Writing what was read reproduces the data and MILC's own sum29/sum31 (word k of the whole data
    block rotated by k mod 29 / 31), in either byte order."""
    for name, order in (("lat.sample.l4448", ">"), ("lat.sample.l4444", "<")):
        path = sample(shared_data, name)
        dims = SAMPLES[name][0]
        gauge = MILC.read(path, Lattice(dims))
        out = tmp_path / name
        sums = MILC.write(out, gauge, byte_order=order)
        original, written = path.read_bytes(), out.read_bytes()
        assert written[HEADER_BYTES:] == original[HEADER_BYTES:]
        assert (sums["sum29"], sums["sum31"]) == read_header(path)["sums"] == read_header(out)["sums"]
        assert written[:20] == original[:20]  # magic and dims; the time stamp differs


def test_flipped_byte_fails_the_checksum(shared_data, tmp_path):
    bad = corrupt_copy(sample(shared_data, "lat.sample.l4444"), tmp_path, HEADER_BYTES + 1000)
    with pytest.raises(FormatError, match="MILC checksum"):
        MILC.read(bad, Lattice([4, 4, 4, 4]))
    with pytest.warns(HpcmixWarning) as record:
        gauge = MILC.read(bad, Lattice([4, 4, 4, 4]), verify=False)
    assert any("MILC checksum (sum29 sum31) mismatch" in str(w.message) for w in record)
    assert gauge.U.shape == (4, 4, 4, 4, 4, 3, 3)


def test_truncated_file_is_a_clear_error(shared_data, tmp_path):
    src = sample(shared_data, "lat.sample.l4444")
    short = corrupt_copy(src, tmp_path, 0, length=src.stat().st_size - 100)
    with pytest.raises(FormatError, match="truncated") as info:
        MILC.read(short, Lattice([4, 4, 4, 4]))
    assert str(short) in str(info.value)
    tiny = corrupt_copy(src, tmp_path, 0, length=50)
    with pytest.raises(FormatError, match="truncated"):
        MILC.read_dims(tiny)


def test_wrong_header_and_dims_are_clear_errors(shared_data, tmp_path):
    src = sample(shared_data, "lat.sample.l4444")
    bad = corrupt_copy(src, tmp_path, 0, xor=0xFF)
    assert not MILC.sniff(bad)
    with pytest.raises(FormatError, match="magic"):
        MILC.read(bad, Lattice([4, 4, 4, 4]))
    with pytest.raises(FormatError, match=r"holds lattice \[4, 4, 4, 4\], expected \[4, 4, 4, 8\]"):
        MILC.read(src, Lattice([4, 4, 4, 8]))
    long = tmp_path / "long"
    long.write_bytes(src.read_bytes() + b"\0" * 8)
    with pytest.raises(FormatError, match="8 more"):
        MILC.read(long, Lattice([4, 4, 4, 4]))


def test_write_read_round_trip_both_byte_orders(tmp_path):
    lattice = Lattice([4, 4, 2, 6])
    gauge = GaugeField.random(lattice, seed=3)
    single = gauge.U.astype(np.complex64)
    for order in "<>":
        out = tmp_path / f"cfg{order == '<'}"
        MILC.write(out, gauge, byte_order=order)
        assert read_header(out)["byte_order"] == order
        back = MILC.read(out, lattice)
        assert np.array_equal(back.U, single.astype(np.complex128))


def test_writer_refuses_overwrite_and_double(tmp_path):
    lattice = Lattice([2, 2, 2, 2])
    gauge = GaugeField.unit(lattice)
    out = tmp_path / "unit"
    MILC.write(out, gauge)
    with pytest.raises(FormatError, match="exists"):
        MILC.write(out, gauge)
    MILC.write(out, gauge, overwrite=True)
    with pytest.raises(FormatError, match="single precision"):
        MILC.write(tmp_path / "double", gauge, dtype=np.complex128)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unit"]


def test_read_dims_checks_the_size_the_header_implies(shared_data, tmp_path):
    """``hpcmix check`` reads only read_dims: a cut or padded file, or a header whose extents do not
    match the size, must fail there already."""
    src = sample(shared_data, "lat.sample.l8888")
    cut = corrupt_copy(src, tmp_path, 0, length=100000)
    with pytest.raises(FormatError, match=r"truncated: it has 100000 bytes, its header's lattice \[8, 8, 8, 8\]"):
        MILC.read_dims(cut)
    padded = tmp_path / "padded"
    padded.write_bytes(src.read_bytes() + b"\0" * 4)
    with pytest.raises(FormatError, match="4 more"):
        MILC.read_dims(padded)
    header = bytearray(src.read_bytes())
    header[16:20] = (16).to_bytes(4, "little")  # nt = 16 in a little-endian 8^4 file
    wrong_t = tmp_path / "wrong_t"
    wrong_t.write_bytes(bytes(header))
    with pytest.raises(FormatError, match=r"lattice \[8, 8, 8, 16\] needs"):
        MILC.read_dims(wrong_t)
    assert MILC.read_dims(src) == [8, 8, 8, 8]


def test_reunitarize_makes_single_precision_links_su3(shared_data):
    """MILC's files hold single-precision links, unitary to ~1e-7; reunitarized in float64 they are
    SU(3) to rounding and the plaquette moves by far less than single precision's resolution."""
    from hpcmix.io.links import reunitarize

    gauge = MILC.read(sample(shared_data, "lat.sample.l4448"), Lattice([4, 4, 4, 8]))
    before_plaq, before = gauge.plaquette(), gauge.U.copy()
    eye = np.eye(3)
    assert np.abs(np.conj(np.swapaxes(before, -1, -2)) @ before - eye).max() > 1e-8  # not SU(3) to double yet
    change = reunitarize(gauge)
    U = gauge.U
    assert np.abs(np.conj(np.swapaxes(U, -1, -2)) @ U - eye).max() < 1e-15
    assert np.abs(np.linalg.det(U) - 1).max() < 1e-15
    assert change == np.abs(U - before).max() and 1e-9 < change < 1e-6
    assert abs(gauge.plaquette() - before_plaq) < 1e-6
    assert gauge.metadata["reunitarized"] == change
