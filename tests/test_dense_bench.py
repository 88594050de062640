"""The dense benchmark runs end to end at toy sizes and prints its Markdown tables."""

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
