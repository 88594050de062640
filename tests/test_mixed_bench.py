"""The mixed-precision benchmark runs end to end at a toy setting (8^4, heavy quark) and prints its
Markdown table; skipped without the shared data."""


from mpi_helpers import benchmark


def test_bench_mixed_runs(shared_data, capsys):
    bench = benchmark("mixed")
    args = ["--gauge", str(shared_data / "gauge" / "milc" / "lat.sample.l8888"), "--size", "8", "--repeats", "1",
            "--kappa", "0.1", "--tol", "1e-8", "--precisions", "half", "--reconstruct-sloppy", "12"]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "| double |" in out and "| double-half |" in out and "speedup vs double" in out
