"""``hpcmix convert`` as a user runs it: a bad request under mpiexec is one error line and a clean
exit with the error's code (no per-rank messages, no MPI abort), and --precision / --no-verify."""

import sys

import h5py
import pytest

from cli_helpers import hpcmix
from mpi_helpers import run_mpi


def convert_mpi(n, *args, cwd):
    return run_mpi(n, [sys.executable, "-m", "hpcmix", "convert", *map(str, args)], timeout=120, cwd=cwd)


@pytest.mark.parametrize("output, options, message", [
    ("exists.h5", [], "exists.h5: file exists; refusing to overwrite it (pass --overwrite)"),
    ("out.xyz", [], "cannot tell the output format from the extension"),
    ("out.h5", ["--to", "gif"], "unknown format 'gif'; registered formats: hpcmix, ildg, milc, nersc"),
    ("out.h5", ["--precision", "quad"], "precision must be one of single, double, not 'quad'"),
    ("t.milc", [], "pass --precision single to round them"),
], ids=["exists", "extension", "to", "precision", "double_to_milc"])
def test_bad_request_on_two_ranks_is_one_clean_error(shared_data, tmp_path, output, options, message):
    (tmp_path / "exists.h5").write_bytes(b"keep me")
    src = shared_data / "gauge" / "nersc" / "t_nersc.cfg"
    result = convert_mpi(2, src, output, *options, cwd=tmp_path)
    err = result.stdout + result.stderr
    assert result.returncode == 2, err
    assert result.stderr.count("hpcmix: error:") == 1 and message in result.stderr, err
    assert "on rank" not in err and "Abort" not in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.h5"]
    assert (tmp_path / "exists.h5").read_bytes() == b"keep me"


def test_precision_single_makes_a_milc_file_of_double_links(shared_data, tmp_path):
    src = shared_data / "gauge" / "nersc" / "t_nersc.cfg"
    result = hpcmix("convert", src, "t.milc", "--precision", "single", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert hpcmix("convert", "t.milc", "t.h5", cwd=tmp_path).returncode == 0
    with h5py.File(tmp_path / "t.h5") as h5:
        assert h5["gauge/U"].dtype == "complex64" and h5["gauge/U"].attrs["source_format"] == "milc"


@pytest.mark.parametrize("name", ["hdf5", "HDF5", "h5"])
def test_hdf5_names_the_hpcmix_format(shared_data, tmp_path, name):
    src = shared_data / "gauge" / "nersc" / "t_nersc.cfg"
    result = hpcmix("convert", src, "t.cfg.out", "--to", name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with h5py.File(tmp_path / "t.cfg.out") as h5:
        assert h5["gauge/U"].attrs["format"] == "hpcmix-gauge"
