"""The dense benchmark runs end to end at toy sizes and prints its Markdown tables."""

import pytest

from mpi_helpers import benchmark


def load():
    return benchmark("dense")


def test_speed_runs(capsys):
    assert load().main(["--sizes", "48", "--repeats", "1", "--precisions", "fp32", "fp16-scaled"]) == 0
    out = capsys.readouterr().out
    assert "| scipy.linalg.solve (dgesv) |" in out and "| fp16-scaled + classical_gmres |" in out
    assert load().main(["--sizes", "32", "--repeats", "1", "--precisions", "bf16", "--matrix", "hpl_mxp"]) == 0
    assert "HPL-MxP matrix" in capsys.readouterr().out


def test_table(capsys):
    bench = load()
    assert len(bench.table_matrices(8)) >= 20
    assert bench.main(["--table", "--table-n", "24", "--precisions", "bf16", "--refinements", "gmres"]) == 0
    out = capsys.readouterr().out
    assert "| bf16 | gmres |" in out and "| HPL-MxP seed 1 | - |" in out


def test_backend_option(capsys):
    """--backend runs the dense solves on a registered backend; a CPU one keeps the scipy/LAPACK baselines, and
    a backend that cannot load here is one clear error (the CLI prints it, exit status 2)."""
    from hpcmix.backends import BackendUnavailable
    from hpcmix.backends.cupy_backend import CupyBackend
    bench = load()
    assert bench.main(["--sizes", "40", "--repeats", "1", "--precisions", "bf16", "--refinements", "gmres",
                       "--backend", "numba"]) == 0
    out = capsys.readouterr().out
    assert "backend numba" in out and "| LAPACK dgetrf+dgetrs |" in out and "| bf16 + gmres |" in out
    assert "| vs scipy.solve | vs LAPACK getrf+getrs |" in out and out.count(" pass |") == 3
    ok, why = CupyBackend.available()
    if not ok:
        with pytest.raises(BackendUnavailable, match=r"backend 'cupy' is not available: ") as err:
            bench.main(["--sizes", "40", "--backend", "cupy"])
        assert why in str(err.value) and err.value.exit_code == 2
