"""NERSC archive files: header checks (CHECKSUM, PLAQUETTE, LINK_TRACE), corrupt files, writing."""

import numpy as np
import pytest

from hpcmix.errors import FormatError
from hpcmix.fields import GaugeField
from hpcmix.io.milc import MILCGaugeFormat
from hpcmix.io.nersc import NERSCGaugeFormat, read_header
from hpcmix.io.warn import HpcmixWarning
from hpcmix.lattice import Lattice

NERSC = NERSCGaugeFormat()
SAMPLES = {"t_nersc.cfg": [4, 4, 4, 4], "lat.sample.l6666_nersc": [6, 6, 6, 6]}


def sample(shared_data, name):
    return shared_data / "gauge" / "nersc" / name


def edited(src, tmp_path, old, new):
    """A copy of ``src`` with the header text ``old`` replaced by ``new``."""
    data = src.read_bytes()
    assert old in data
    dst = tmp_path / src.name
    dst.write_bytes(data.replace(old, new, 1))
    return dst


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_agrees_with_its_header(shared_data, name):
    path = sample(shared_data, name)
    assert NERSC.sniff(path) and NERSC.read_dims(path) == SAMPLES[name]
    gauge = NERSC.read(path, Lattice(SAMPLES[name]))  # CHECKSUM, PLAQUETTE, LINK_TRACE all checked
    header, _ = read_header(path)
    assert gauge.metadata["plaquette"] == pytest.approx(float(header["PLAQUETTE"]), abs=5e-9)
    assert gauge.link_trace() == pytest.approx(float(header["LINK_TRACE"]), abs=5e-9)
    assert gauge.metadata["header"]["DATATYPE"] == "4D_SU3_GAUGE"


def test_same_links_as_the_milc_original(shared_data):
    lattice = Lattice([6, 6, 6, 6])
    nersc = NERSC.read(sample(shared_data, "lat.sample.l6666_nersc"), lattice)
    milc = MILCGaugeFormat().read(shared_data / "gauge" / "milc" / "lat.sample.l6666", lattice)
    # the converter re-unitarized in single precision: the links agree to single-precision rounding
    assert np.abs(nersc.U - milc.U).max() < 5e-7


def test_flipped_byte_fails_the_checksum(shared_data, tmp_path):
    src = sample(shared_data, "t_nersc.cfg")
    data = bytearray(src.read_bytes())
    data[-7] ^= 0x10
    bad = tmp_path / "flipped.cfg"
    bad.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="NERSC CHECKSUM mismatch"):
        NERSC.read(bad, Lattice([4, 4, 4, 4]))
    with pytest.warns(HpcmixWarning) as record:
        NERSC.read(bad, Lattice([4, 4, 4, 4]), verify=False)
    assert any("NERSC CHECKSUM mismatch" in str(w.message) for w in record)


def test_wrong_plaquette_in_header_is_an_error(shared_data, tmp_path):
    bad = edited(sample(shared_data, "t_nersc.cfg"), tmp_path, b"PLAQUETTE = 0.0382422893", b"PLAQUETTE = 0.0392422893")
    with pytest.raises(FormatError, match="plaquette"):
        NERSC.read(bad, Lattice([4, 4, 4, 4]))
    with pytest.warns(HpcmixWarning, match="plaquette"):
        NERSC.read(bad, Lattice([4, 4, 4, 4]), verify=False)


@pytest.mark.parametrize("old, new, message", [
    (b"DIMENSION_4 = 4", b"DIMENSION_4 = 8", "truncated"),
    (b"DATATYPE = 4D_SU3_GAUGE", b"DATATYPE = 4D_SU2_GAUGE", "DATATYPE"),
    (b"IEEE32BIG", b"IEEE16BIG", "FLOATING_POINT"),
    (b"DIMENSION_2 = 4", b"DIMENSION_2 = four", "DIMENSION"),
    (b"END_HEADER", b"END_HEADEX", "END_HEADER"),
])
def test_wrong_header_is_a_clear_error(shared_data, tmp_path, old, new, message):
    bad = edited(sample(shared_data, "t_nersc.cfg"), tmp_path, old, new)
    with pytest.raises(FormatError, match=message) as info:
        NERSC.read(bad, Lattice([4, 4, 4, 8] if b"= 8" in new else [4, 4, 4, 4]))
    assert str(bad) in str(info.value)


def test_truncated_and_wrong_dims(shared_data, tmp_path):
    src = sample(shared_data, "t_nersc.cfg")
    short = tmp_path / "short.cfg"
    short.write_bytes(src.read_bytes()[:-8])
    with pytest.raises(FormatError, match="truncated"):
        NERSC.read(short, Lattice([4, 4, 4, 4]))
    with pytest.raises(FormatError, match="holds lattice"):
        NERSC.read(src, Lattice([4, 4, 4, 8]))


def test_rewrite_in_the_same_layout_is_byte_identical(shared_data, tmp_path):
    src = sample(shared_data, "lat.sample.l6666_nersc")
    gauge = NERSC.read(src, Lattice([6, 6, 6, 6]))
    out = tmp_path / "l6666.nersc"
    header = NERSC.write(out, gauge, dtype=np.complex64, rows=2)
    _, offset = read_header(src)
    _, out_offset = read_header(out)
    assert out.read_bytes()[out_offset:] == src.read_bytes()[offset:]
    assert header["CHECKSUM"] == read_header(src)[0]["CHECKSUM"]


@pytest.mark.parametrize("rows, dtype, order", [(3, np.complex128, ">"), (3, np.complex64, "<"),
                                                 (2, np.complex128, "<"), (2, np.complex64, ">")])
def test_write_read_round_trip(tmp_path, rows, dtype, order):
    lattice = Lattice([4, 2, 2, 4])
    gauge = GaugeField.random(lattice, seed=11)
    out = tmp_path / "cfg.nersc"
    NERSC.write(out, gauge, dtype=dtype, rows=rows, byte_order=order)
    back = NERSC.read(out, lattice)  # its own header checks pass
    stored = gauge.U.astype(dtype).astype(np.complex128)
    assert np.array_equal(back.U[..., :rows, :], stored[..., :rows, :])
    assert np.abs(back.U - gauge.U).max() < (1e-14 if dtype == np.complex128 else 1e-6)
    with pytest.raises(FormatError, match="exists"):
        NERSC.write(out, gauge)


def test_read_dims_checks_the_size_the_header_implies(shared_data, tmp_path):
    """What ``hpcmix check`` reads (read_dims) catches a cut file and a header whose extents or data
    type disagree with the size."""
    src = sample(shared_data, "t_nersc.cfg")
    cut = tmp_path / "cut.cfg"
    cut.write_bytes(src.read_bytes()[:40000])
    with pytest.raises(FormatError, match=r"truncated: it has 40000 bytes, its header \(lattice \[4, 4, 4, 4\], "
                                          r"2 rows, 32-bit\) needs 49738"):
        NERSC.read_dims(cut)
    with pytest.raises(FormatError, match="truncated"):
        NERSC.read_dims(edited(src, tmp_path, b"DIMENSION_4 = 4", b"DIMENSION_4 = 8"))
    with pytest.raises(FormatError, match="bytes more than its header"):
        NERSC.read_dims(edited(src, tmp_path, b"DIMENSION_4 = 4", b"DIMENSION_4 = 2"))
    assert NERSC.read_dims(src) == [4, 4, 4, 4]
