"""SciDAC color-vector and Dirac-fermion files: MILC's samples, detection, write -> read round trips."""

import numpy as np
import pytest

from hpcmix.errors import FormatError
from hpcmix.io import lime
from hpcmix.io.scidac_vector import is_vector_file, read_vector, vector_info, write_vector
from hpcmix.io.warn import HpcmixWarning
from hpcmix.lattice import Lattice

NAMES = ["ksvector.src.sample.l8", "ksvector.ans.Minv.sample.l8", "ksvector.ans.MdaggerMinv.sample.l8"]


def fermion(shared_data, name):
    return shared_data / "fermion" / name


@pytest.mark.parametrize("name", NAMES)
def test_milc_vectors_read_with_verified_checksum(shared_data, name):
    path = fermion(shared_data, name)
    assert is_vector_file(path)
    field, kind = vector_info(path)
    assert (field.dims, field.datatype, kind) == ([8, 8, 8, 8], "QDP_F3_ColorVector", "ColorVector")
    v = read_vector(path, Lattice([8, 8, 8, 8]))
    assert v.shape == (8, 8, 8, 8, 3) and v.dtype == np.complex128
    assert np.isfinite(v).all() and np.abs(v).max() > 0
    assert np.array_equal(v, v.astype(np.complex64))  # single precision data, exactly widened


def test_detection(shared_data):
    assert not is_vector_file(shared_data / "gauge" / "lime" / "lat.sample.l8")
    assert not is_vector_file(shared_data / "gauge" / "milc" / "lat.sample.l8888")
    assert not is_vector_file(shared_data / "gauge" / "nersc" / "t_nersc.cfg")


def test_rewrite_keeps_data_and_checksum(shared_data, tmp_path):
    src = fermion(shared_data, "ksvector.src.sample.l8")
    lattice = Lattice([8, 8, 8, 8])
    v = read_vector(src, lattice)
    out = tmp_path / "src.l8"
    write_vector(out, lattice, v, {"note": "rewritten"}, precision="single")
    old, new = lime.scidac_field(src), lime.scidac_field(out)
    assert new.checksum == old.checksum and new.datatype == old.datatype
    assert lime.read_record(out, new.record) == lime.read_record(src, old.record)
    assert np.array_equal(read_vector(out, lattice), v)


@pytest.mark.parametrize("site_shape, dtype, datatype", [
    ((3,), np.complex128, "QDP_D3_ColorVector"), ((4, 3), np.complex128, "QDP_D3_DiracFermion"),
    ((4, 3), np.complex64, "QDP_F3_DiracFermion"), ((3,), np.complex64, "QDP_F3_ColorVector"),
])
def test_write_read_round_trip_is_exact(tmp_path, site_shape, dtype, datatype):
    lattice = Lattice([4, 2, 2, 6])
    rng = np.random.default_rng(7)
    shape = lattice.shape + site_shape
    v = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    out = tmp_path / "v.lime"
    write_vector(out, lattice, v)
    assert vector_info(out)[0].datatype == datatype
    back = read_vector(out, lattice)
    assert back.dtype == np.complex128 and np.array_equal(back, v.astype(np.complex128))
    with pytest.raises(FormatError, match="exists"):
        write_vector(out, lattice, v)


def test_flipped_byte_fails_the_checksum(shared_data, tmp_path):
    src = fermion(shared_data, "ksvector.ans.Minv.sample.l8")
    record = lime.scidac_field(src).record
    data = bytearray(src.read_bytes())
    data[record.offset + 999] ^= 0x80
    bad = tmp_path / "bad.l8"
    bad.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="SciDAC checksum"):
        read_vector(bad, Lattice([8, 8, 8, 8]))
    with pytest.warns(HpcmixWarning, match="checksum"):
        read_vector(bad, Lattice([8, 8, 8, 8]), verify=False)


def test_errors(shared_data, tmp_path):
    src = fermion(shared_data, "ksvector.src.sample.l8")
    with pytest.raises(FormatError, match="holds lattice"):
        read_vector(src, Lattice([8, 8, 8, 4]))
    with pytest.raises(FormatError, match="not a SciDAC color-vector"):
        read_vector(shared_data / "gauge" / "lime" / "lat.sample.l8", Lattice([8, 8, 8, 8]))
    short = tmp_path / "short"
    short.write_bytes(src.read_bytes()[:50000])
    with pytest.raises(FormatError, match="truncated"):
        read_vector(short, Lattice([8, 8, 8, 8]))
    lattice = Lattice([2, 2, 2, 2])
    with pytest.raises(FormatError, match="shape"):
        write_vector(tmp_path / "bad", lattice, np.zeros(lattice.shape + (2,), complex))
