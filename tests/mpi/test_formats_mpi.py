"""File formats on a distributed lattice: every rank reads and writes only its own sites, and the
result is bit for bit what a single-rank read gives."""

import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pluggy
import pytest
from mpi4py import MPI

from hpcmix import hookspecs
from hpcmix.errors import FormatError
from hpcmix.fields import GaugeField
from hpcmix.io import plugin
from hpcmix.io.convert import convert
from hpcmix.io.hdf5_gauge import HDF5GaugeFormat
from hpcmix.io.ildg import ILDGGaugeFormat
from hpcmix.io.milc import MILCGaugeFormat
from hpcmix.io.nersc import NERSCGaugeFormat
from hpcmix.io.scidac_vector import read_vector, write_vector
from hpcmix.io.warn import HpcmixWarning
from hpcmix.lattice import Lattice
from hpcmix.registry import Registry

MILC, NERSC, ILDG = MILCGaugeFormat(), NERSCGaugeFormat(), ILDGGaugeFormat()
COMM = MPI.COMM_WORLD

GAUGE_FILES = [(MILC, "milc/lat.sample.l4448"), (MILC, "milc/lat.sample.l8888"), (NERSC, "nersc/t_nersc.cfg"),
               (ILDG, "lime/lat.sample.l8"), (ILDG, "lime/weak_field.lime"), (ILDG, "lime/ildg.l8t4b3360_QUDA")]


@pytest.fixture
def shared_tmp():
    """One temporary folder every rank sees, made and removed by rank 0 (per-rank tmp_path folders
    would differ between ranks)."""
    folder = Path(COMM.bcast(tempfile.mkdtemp(prefix="hpcmix-formats-") if COMM.rank == 0 else None))
    yield folder
    COMM.Barrier()
    if COMM.rank == 0:
        shutil.rmtree(folder)


def serial(lattice):
    return Lattice(lattice.dims, comm=MPI.COMM_SELF)


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("fmt, name", GAUGE_FILES, ids=[n for _, n in GAUGE_FILES])
def test_distributed_read_is_the_single_rank_read(shared_data, fmt, name):
    path = shared_data / "gauge" / name
    lattice = Lattice(fmt.read_dims(path))
    assert lattice.pg.size == COMM.size > 1
    mine = fmt.read(path, lattice)
    whole = fmt.read(path, serial(lattice))
    assert np.array_equal(mine.U, whole.U[lattice.box()])
    assert mine.metadata["plaquette"] == pytest.approx(whole.metadata["plaquette"], abs=1e-13)
    assert mine.metadata.get("boundary_sign_removed") == whole.metadata.get("boundary_sign_removed")


@pytest.mark.mpi(min_size=2)
def test_distributed_vector_read(shared_data):
    path = shared_data / "fermion" / "ksvector.ans.Minv.sample.l8"
    lattice = Lattice([8, 8, 8, 8])
    assert np.array_equal(read_vector(path, lattice), read_vector(path, serial(lattice))[lattice.box()])


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("fmt, name, options", [
    (ILDG, "cfg.lime", {}), (ILDG, "cfg_single.lime", {"dtype": np.complex64}),
    (NERSC, "cfg.nersc", {"rows": 2, "byte_order": "<"}), (MILC, "cfg.milc", {"byte_order": ">"}),
])
def test_distributed_write(shared_tmp, fmt, name, options):
    lattice = Lattice([4, 4, 4, 8])
    gauge = GaugeField.random(lattice, seed=2)
    path = shared_tmp / name
    fmt.write(path, gauge, **options)
    whole = fmt.read(path, serial(lattice))  # checksums written from the ranks' parts, verified serially
    mine = fmt.read(path, lattice)
    assert np.array_equal(mine.U, whole.U[lattice.box()])
    assert np.abs(mine.U - gauge.U).max() < 1e-6
    with pytest.raises(FormatError, match="exists") as info:
        fmt.write(path, gauge, **options)
    assert info.value.collective


@pytest.mark.mpi(min_size=2)
def test_distributed_vector_write(shared_tmp):
    lattice = Lattice([4, 4, 4, 8])
    rng = np.random.default_rng(COMM.rank)
    v = rng.standard_normal(lattice.shape + (4, 3)) + 1j * rng.standard_normal(lattice.shape + (4, 3))
    path = shared_tmp / "dirac.lime"
    write_vector(path, lattice, v)
    assert np.array_equal(read_vector(path, serial(lattice))[lattice.box()], v)


def formats_registry():
    pm = pluggy.PluginManager("hpcmix")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, name="hpcmix.io.plugin")
    return Registry(pm)


@pytest.mark.mpi(min_size=2)
def test_distributed_convert(shared_data, shared_tmp):
    registry = formats_registry()
    out = shared_tmp / "l8888.h5"
    mine = convert(registry, shared_data / "gauge" / "milc" / "lat.sample.l8888", out)
    assert mine.lattice.pg.size == COMM.size
    whole = HDF5GaugeFormat().read(out, serial(mine.lattice))
    assert np.array_equal(mine.U, whole.U[mine.lattice.box()])


@pytest.mark.mpi(min_size=2)
def test_corrupt_file_fails_on_every_rank(shared_data, shared_tmp):
    src = shared_data / "gauge" / "milc" / "lat.sample.l8888"
    bad, short = shared_tmp / "flipped", shared_tmp / "short"
    if COMM.rank == 0:
        data = bytearray(src.read_bytes())
        data[-5] ^= 0x01  # a site on the last rank's box only
        bad.write_bytes(bytes(data))
        short.write_bytes(bytes(data[:-4096]))
    COMM.Barrier()
    lattice = Lattice([8, 8, 8, 8])
    with pytest.raises(FormatError, match="checksum") as info:
        MILC.read(bad, lattice)
    assert info.value.collective
    with pytest.raises(FormatError, match="truncated"):
        MILC.read(short, lattice)


@pytest.mark.mpi(min_size=2)
def test_distributed_convert_without_verification_records_the_failure(shared_data, shared_tmp):
    """The check fails on the last rank's sites only; every rank agrees on what failed, and the
    output (its attributes written by rank 0) records it. Converting again over it is a collective
    error."""
    src, bad, out = shared_data / "gauge" / "milc" / "lat.sample.l8888", shared_tmp / "flipped", shared_tmp / "out.h5"
    if COMM.rank == 0:
        data = bytearray(src.read_bytes())
        data[-5] ^= 0x01
        bad.write_bytes(bytes(data))
    COMM.Barrier()
    registry = formats_registry()
    with pytest.warns(HpcmixWarning, match="verification skipped"):
        convert(registry, bad, out, verify=False)
    with h5py.File(out) as h5:
        assert h5["gauge/U"].attrs["failed_checks"].startswith("MILC checksum (sum29 sum31) mismatch")
    with pytest.raises(FormatError, match="exists") as info:
        convert(registry, bad, out, verify=False)
    assert info.value.collective
