"""Mixed-precision CG on the real configuration lat.sample.l8888 (8^4, beta 6.0): Wilson at kappa 0.155
and Wilson-clover at kappa 0.140, c_sw 1.0, even-odd preconditioned, tol 1e-10. Double-single and
double-half CG (reliable updates) take at most 15% more iterations than double CG and fewer than
restarted defect correction at the same precisions. About 5 minutes on 2 cores, hence slow; the same
table is ``python benchmarks/bench_mixed.py --table``."""


import pytest

from mpi_helpers import benchmark

TOL = 1e-10




@pytest.mark.slow
def test_mixed_cg_iterations_on_l8888(shared_data):
    bench = benchmark("mixed")
    rows = bench.iteration_table(bench.load_gauge(shared_data / "gauge" / "milc" / "lat.sample.l8888", 8), TOL)
    bench.print_table(rows)
    assert all(r["true_residual"] <= TOL for r in rows)
    for operator in {r["operator"] for r in rows}:
        its = {(r["solver"], r["precision"]): r["iterations"] for r in rows if r["operator"] == operator}
        double = its["CG", "double"]
        for sloppy in ("single", "half"):
            mixed = its["CG", f"double-{sloppy}"]
            assert mixed <= 1.15 * double, (operator, sloppy, mixed, double)
            assert mixed < its["defect correction", f"double-{sloppy}"], (operator, sloppy, its)
