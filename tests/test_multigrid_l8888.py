"""Multigrid on the real configuration lat.sample.l8888 (8^4, beta 6.0), Wilson, over the kappa ladder 0.13, 0.15,
0.157 (near critical), blocks [4, 2, 2, 2], 24 null vectors: MG-GCR reaches the true residual 1e-10 (recomputed
by the canonical operator) at every kappa, its outer iterations grow at most 1.5x from 0.15 to 0.157, and at 0.157
it needs 5x fewer iterations than even-odd CG and 10x fewer than unpreconditioned GCR. About 3 minutes on 2
cores, hence slow; the same table is ``python benchmarks/bench_multigrid.py --block 4 2 2 2``."""


import pytest

from hpcmix.backends import DEFAULT_BACKEND, load_backend
from hpcmix.registry import get_registry

from mpi_helpers import benchmark

TOL = 1e-10




@pytest.mark.slow
def test_multigrid_iterations_flat_over_kappa_on_l8888(shared_data):
    bench = benchmark("multigrid")
    gauge = bench.load_gauge(shared_data / "gauge" / "milc" / "lat.sample.l8888", 8)
    backend = load_backend(get_registry(), DEFAULT_BACKEND)
    rows = [bench.row(gauge, kappa, 0.0, backend, TOL, (4, 2, 2, 2), 24, gcr=kappa == 0.157)
            for kappa in (0.13, 0.15, 0.157)]
    bench.print_table(rows)
    assert all(r[k] <= TOL for r in rows for k in r if k.endswith("_res"))
    its = {r["kappa"]: r["mg_its"] for r in rows}
    assert its[0.157] <= 1.5 * its[0.15], its
    last = rows[-1]
    assert 5 * last["mg_its"] < last["cg_its"] and 10 * last["mg_its"] < last["gcr_its"], last
