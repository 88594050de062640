"""hpcmix's HDF5 gauge format: bit-exact round trips, and every bad file is a clear error."""

import shutil

import h5py
import numpy as np
import pytest

from hpcmix.errors import FormatError
from hpcmix.fields import GaugeField
from hpcmix.io import hdf5_gauge
from hpcmix.io.hdf5_gauge import DATASET, HDF5GaugeFormat
from hpcmix.io.warn import HpcmixWarning
from hpcmix.lattice import Lattice

FMT = HDF5GaugeFormat()


@pytest.fixture
def gauge():
    return GaugeField.random(Lattice([4, 4, 4, 6]), seed=11)


@pytest.fixture
def written(tmp_path, gauge):
    path = tmp_path / "g.h5"
    FMT.write(path, gauge)
    return path


def test_round_trip_is_bit_exact(written, gauge):
    back = FMT.read(written, gauge.lattice)
    assert back.U.dtype == np.complex128
    assert np.array_equal(back.U.view(np.uint64), gauge.U.view(np.uint64))
    assert back.metadata["plaquette"] == pytest.approx(gauge.plaquette(), abs=1e-15)
    with h5py.File(written) as h5:
        attrs = dict(h5[DATASET].attrs)
    assert attrs["format"] == "hpcmix-gauge" and list(attrs["lattice"]) == [4, 4, 4, 6]
    assert FMT.sniff(written) and FMT.read_dims(written) == [4, 4, 4, 6]


def test_single_precision_round_trip_is_bit_exact(tmp_path, gauge):
    path = tmp_path / "g32.h5"
    FMT.write(path, gauge, dtype=np.complex64)
    back = FMT.read(path, gauge.lattice)
    assert np.array_equal(back.U, gauge.U.astype(np.complex64).astype(np.complex128))


def test_never_overwrites(written, gauge):
    before = written.read_bytes()
    with pytest.raises(FormatError, match="exists") as info:
        FMT.write(written, gauge)
    assert info.value.collective  # every rank raises it: the job ends cleanly
    assert written.read_bytes() == before


def test_file_that_appears_while_writing_is_not_replaced(tmp_path, gauge, monkeypatch):
    """The start check passed (simulated), then another process made the file: the final move
    refuses to replace it and the temporary file is removed."""
    monkeypatch.setattr(hdf5_gauge, "refuse_existing", lambda path, overwrite: None)
    path = tmp_path / "raced.h5"
    path.write_bytes(b"theirs")
    with pytest.raises(FormatError, match="appeared while this one was being written"):
        FMT.write(path, gauge)
    assert path.read_bytes() == b"theirs" and [p.name for p in tmp_path.iterdir()] == ["raced.h5"]
    FMT.write(path, gauge, overwrite=True)
    assert np.array_equal(FMT.read(path, gauge.lattice).U, gauge.U)


def test_truncated_file(tmp_path, written, gauge):
    bad = tmp_path / "truncated.h5"
    bad.write_bytes(written.read_bytes()[:5000])
    with pytest.raises(FormatError, match="truncated.h5"):
        FMT.read(bad, gauge.lattice)


def test_corrupt_data_fails_checksum(tmp_path, written, gauge):
    bad = tmp_path / "corrupt.h5"
    shutil.copy(written, bad)
    with h5py.File(bad, "r+") as h5:
        h5[DATASET][1, 2, 3, 0, 2, 1, 1] += 1e-9
    with pytest.raises(FormatError, match="checksum mismatch"):
        FMT.read(bad, gauge.lattice)
    with pytest.warns(HpcmixWarning, match="checksum mismatch"):
        FMT.read(bad, gauge.lattice, verify=False)


def test_wrong_checksum_attribute(tmp_path, written, gauge):
    bad = tmp_path / "wrongsum.h5"
    shutil.copy(written, bad)
    with h5py.File(bad, "r+") as h5:
        h5[DATASET].attrs["checksum"] = np.array([1, 2], dtype=np.uint32)
    with pytest.raises(FormatError, match="checksum mismatch"):
        FMT.read(bad, gauge.lattice)


def test_wrong_plaquette_attribute(tmp_path, written, gauge):
    bad = tmp_path / "wrongplaq.h5"
    shutil.copy(written, bad)
    with h5py.File(bad, "r+") as h5:
        h5[DATASET].attrs["plaquette"] = 0.5
    with pytest.raises(FormatError, match="plaquette"):
        FMT.read(bad, gauge.lattice)


def test_wrong_shape(tmp_path, written):
    with pytest.raises(FormatError, match="shape"):
        FMT.read(written, Lattice([4, 4, 4, 8]))


def test_non_unitary_links(tmp_path, gauge):
    broken = GaugeField(gauge.lattice, gauge.U * 1.01)
    path = tmp_path / "nonunitary.h5"
    FMT.write(path, broken)
    with pytest.raises(FormatError, match="not unitary"):
        FMT.read(path, gauge.lattice)


def test_foreign_file_without_checksum_or_plaquette_loads_with_warning(tmp_path, gauge):
    """A file written by another tool: attributes on the group, no checksum and no plaquette."""
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset(DATASET, data=gauge.U)
        h5["gauge"].attrs["lattice"] = [4, 4, 4, 6]
    with pytest.warns(HpcmixWarning) as record:
        back = FMT.read(path, gauge.lattice)
    messages = " ".join(str(w.message) for w in record)
    assert "checksum" in messages and "plaquette" in messages
    assert np.array_equal(back.U, gauge.U)


def test_not_hdf5(tmp_path, gauge):
    path = tmp_path / "text.h5"
    path.write_text("hello")
    assert not FMT.sniff(path)
    with pytest.raises(FormatError, match="text.h5"):
        FMT.read(path, gauge.lattice)


def test_single_precision_links_saved_in_double_reload(tmp_path, gauge):
    """A field read from a single-precision file (MILC, say) and saved in double loads again: the
    unitarity check allows single-precision rounding; the checksum still guards the data."""
    rounded = GaugeField(gauge.lattice, gauge.U.astype(np.complex64).astype(np.complex128))
    path = tmp_path / "from_single.h5"
    FMT.write(path, rounded)
    assert np.array_equal(FMT.read(path, gauge.lattice).U, rounded.U)
