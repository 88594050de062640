"""LIME records and ILDG/SciDAC gauge files: real samples, checksums, the QUDA boundary sign, writing."""

import numpy as np
import pytest

from hpcmix.errors import FormatError
from hpcmix.fields import GaugeField
from hpcmix.io import lime
from hpcmix.io.ildg import ILDGGaugeFormat
from hpcmix.io.milc import MILCGaugeFormat
from hpcmix.io.warn import HpcmixWarning
from hpcmix.lattice import Lattice

ILDG = ILDGGaugeFormat()

#: file: (dims, precision, binary record, plaquette measured by hpcmix)
SAMPLES = {
    "lat.sample.l4444.ildg": ([4, 4, 4, 4], "single", "ildg-binary-data", 0.594850158947),
    "lat.sample.l4448.scidac": ([4, 4, 4, 8], "single", "scidac-binary-data", 0.569055724369),
    "lat.sample.l8": ([8, 8, 8, 8], "single", "scidac-binary-data", 0.873640874413),
    "weak_field.lime": ([4, 4, 4, 8], "double", "ildg-binary-data", 0.994804132267),
    "ildg.l8t4b3360_QUDA": ([8, 8, 8, 4], "double", "scidac-binary-data", 0.311637548993),
}


def sample(shared_data, name):
    return shared_data / "gauge" / "lime" / name


def flipped(src, tmp_path, offset):
    data = bytearray(src.read_bytes())
    data[offset] ^= 0x04
    dst = tmp_path / src.name
    dst.write_bytes(bytes(data))
    return dst


def test_record_layer(shared_data):
    records = lime.scan(sample(shared_data, "lat.sample.l4444.ildg"))
    assert [r.type for r in records] == [
        "scidac-private-file-xml", "scidac-file-xml", "scidac-private-record-xml", "scidac-record-xml",
        "ildg-format", "ildg-data-lfn", "ildg-binary-data", "scidac-checksum"]
    assert [len(m) for m in lime.messages(records)] == [2, 6]
    assert records[6].length == 4 ** 4 * 4 * 72
    field = lime.scidac_field(sample(shared_data, "lat.sample.l4444.ildg"))
    assert (field.dims, field.precision, field.typesize, field.datacount) == ([4, 4, 4, 4], "F", 72, 4)
    assert field.checksum == (0x37AFFB9C, 0x2FC07BBF)
    head, tail = lime.pack_around([[("a", b"xyz"), ("bin", None), ("c", b"12345678")]], 12)
    assert len(head) == 144 + 8 + 144 and len(tail) == 4 + 144 + 8


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_reads_with_verified_checksum(shared_data, name):
    dims, precision, record, plaquette = SAMPLES[name]
    path = sample(shared_data, name)
    assert ILDG.sniff(path) and ILDG.read_dims(path) == dims
    gauge = ILDG.read(path, Lattice(dims))
    meta = gauge.metadata
    assert (meta["precision"], meta["record"]) == (precision, record)
    assert meta["plaquette"] == pytest.approx(plaquette, abs=1e-11)
    assert "suma" in meta["xml"]["scidac-checksum"] and "<dims>" in meta["xml"]["scidac-private-file-xml"]


def test_quda_boundary_sign_is_recognized_and_removed(shared_data):
    path = sample(shared_data, "ildg.l8t4b3360_QUDA")
    gauge = ILDG.read(path, Lattice([8, 8, 8, 4]))
    assert gauge.metadata["boundary_sign_removed"] == "t"
    assert np.abs(np.linalg.det(gauge.U) - 1).max() < 1e-12  # SU(3) everywhere once the sign is out
    others = ILDG.read(sample(shared_data, "weak_field.lime"), Lattice([4, 4, 4, 8]))
    assert "boundary_sign_removed" not in others.metadata


@pytest.mark.parametrize("lime_name, milc_name, dims", [
    ("lat.sample.l4444.ildg", "lat.sample.l4444", [4, 4, 4, 4]),
    ("lat.sample.l4448.scidac", "lat.sample.l4448", [4, 4, 4, 8]),
])
def test_same_links_as_the_milc_original(shared_data, lime_name, milc_name, dims):
    lattice = Lattice(dims)
    a = ILDG.read(sample(shared_data, lime_name), lattice)
    b = MILCGaugeFormat().read(shared_data / "gauge" / "milc" / milc_name, lattice)
    assert np.array_equal(a.U, b.U)
    assert a.metadata["plaquette"] == b.metadata["plaquette"]


def test_flipped_byte_fails_the_checksum(shared_data, tmp_path):
    src = sample(shared_data, "weak_field.lime")
    data = [r for r in lime.scan(src) if r.type == "ildg-binary-data"][0]
    bad = flipped(src, tmp_path, data.offset + 12345)
    with pytest.raises(FormatError, match="SciDAC checksum"):
        ILDG.read(bad, Lattice([4, 4, 4, 8]))
    with pytest.warns(HpcmixWarning) as record:
        ILDG.read(bad, Lattice([4, 4, 4, 8]), verify=False)
    assert any("SciDAC checksum (suma sumb) mismatch" in str(w.message) for w in record)


def test_corrupt_files_are_clear_errors(shared_data, tmp_path):
    src = sample(shared_data, "lat.sample.l4448.scidac")
    records = lime.scan(src)
    short = tmp_path / "short.lime"
    short.write_bytes(src.read_bytes()[:records[-2].offset + 1000])
    with pytest.raises(FormatError, match="truncated") as info:
        ILDG.read(short, Lattice([4, 4, 4, 8]))
    assert str(short) in str(info.value)
    bad_magic = flipped(src, tmp_path, records[2].offset - 144)
    with pytest.raises(FormatError, match="bad LIME record header"):
        ILDG.read(bad_magic, Lattice([4, 4, 4, 8]))
    with pytest.raises(FormatError, match="holds lattice"):
        ILDG.read(src, Lattice([4, 4, 8, 4]))


def test_wrong_precision_in_the_record_xml(shared_data, tmp_path):
    src = sample(shared_data, "lat.sample.l8")
    bad = tmp_path / "double.lime"
    bad.write_bytes(src.read_bytes().replace(b"<precision>F</precision><colors>3</colors><typesize>72",
                                             b"<precision>D</precision><colors>3</colors><typesize>72"))
    with pytest.raises(FormatError, match="not a gauge field"):
        ILDG.read(bad, Lattice([8, 8, 8, 8]))


def test_vector_file_is_not_a_gauge_file(shared_data):
    assert not ILDG.sniff(shared_data / "fermion" / "ksvector.src.sample.l8")


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_write_read_round_trip(tmp_path, dtype):
    lattice = Lattice([4, 2, 4, 2])
    gauge = GaugeField.weak(lattice, seed=5)
    out = tmp_path / "cfg.lime"
    info = ILDG.write(out, gauge, {"ensemble": "test"}, dtype=dtype)
    types = [r.type for r in lime.scan(out)]
    assert types == ["scidac-private-file-xml", "scidac-file-xml", "scidac-private-record-xml", "scidac-record-xml",
                     "ildg-format", "ildg-data-lfn", "ildg-binary-data", "scidac-checksum"]
    back = ILDG.read(out, lattice)
    assert np.array_equal(back.U, gauge.U.astype(dtype).astype(np.complex128))
    assert back.metadata["plaquette"] == info["plaquette"]
    assert "<ensemble>test</ensemble>" in back.metadata["xml"]["scidac-record-xml"]
    with pytest.raises(FormatError, match="exists"):
        ILDG.write(out, gauge)
    wrong = tmp_path / "wrong.lime"
    wrong.write_bytes(out.read_bytes().replace(b"<plaquette>0.", b"<plaquette>1."))
    with pytest.raises(FormatError, match="plaquette"):
        ILDG.read(wrong, lattice)


def test_rewrite_keeps_data_and_checksum(shared_data, tmp_path):
    src = sample(shared_data, "lat.sample.l4444.ildg")
    gauge = ILDG.read(src, Lattice([4, 4, 4, 4]))
    out = tmp_path / "l4444.ildg"
    ILDG.write(out, gauge, dtype=np.complex64)
    old, new = lime.scidac_field(src), lime.scidac_field(out)
    assert new.checksum == old.checksum
    assert lime.read_record(out, new.record) == lime.read_record(src, old.record)


def test_read_dims_checks_the_binary_record_length(shared_data, tmp_path):
    """Dimensions in the headers that do not match the binary record fail in read_dims (what
    ``hpcmix check`` reads), not only when the field is read."""
    src = sample(shared_data, "lat.sample.l4448.scidac")
    data = src.read_bytes()
    assert data.count(b"<dims>4 4 4 8 </dims>") == 1
    wrong = tmp_path / "wrong_dims.lime"
    wrong.write_bytes(data.replace(b"<dims>4 4 4 8 </dims>", b"<dims>4 4 4 4 </dims>"))
    with pytest.raises(FormatError, match=r"expected 73728 for lattice \[4, 4, 4, 4\] in single precision"):
        ILDG.read_dims(wrong)
    assert ILDG.read_dims(src) == [4, 4, 4, 8]


def test_quda_boundary_sign_is_logged_and_recorded(shared_data, tmp_path):
    """Taking QUDA's sign out of 512 links is said in the log, recorded in the load_gauge results and in
    the metadata of every file converted from it."""
    import h5py

    from cli_helpers import hpcmix, write_deck
    from hpcmix.io.nersc import read_header
    path = sample(shared_data, "ildg.l8t4b3360_QUDA")
    deck = write_deck(tmp_path / "deck.toml", f'backend = "numpy"\n[[stage]]\nname = "gauge"\nkind = "load_gauge"\n'
                                             f'file = "{path}"\n')
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 0 and "boundary sign" in result.stdout and "512 links" in result.stdout, result
    with h5py.File(tmp_path / "out.h5") as h5:
        assert h5["gauge"].attrs["boundary_sign_removed"] == "t" and h5["gauge"].attrs["boundary_sign_links"] == 512
    for name in ("q.h5", "q.lime", "q.nersc", "q.milc"):
        result = hpcmix("convert", path, name, *(["--precision", "single"] if name == "q.milc" else []), cwd=tmp_path)
        assert result.returncode == 0 and "512 links" in result.stdout, (name, result)
    with h5py.File(tmp_path / "q.h5") as h5:
        assert h5["gauge/U"].attrs["boundary_sign_removed"] == "t" and h5["gauge/U"].attrs["boundary_sign_links"] == 512
    lattice = Lattice([8, 8, 8, 4])
    xml = ILDG.read(tmp_path / "q.lime", lattice).metadata["xml"]["scidac-record-xml"]
    assert "<boundary_sign_removed>t</boundary_sign_removed><boundary_sign_links>512</boundary_sign_links>" in xml
    header = read_header(tmp_path / "q.nersc")[0]
    assert header["BOUNDARY_SIGN_REMOVED"] == "t" and header["BOUNDARY_SIGN_LINKS"] == "512"
    stamp = MILCGaugeFormat().read(tmp_path / "q.milc", lattice).metadata["time_stamp"]
    assert stamp.endswith("boundary_sign_removed=t links=512"), stamp
