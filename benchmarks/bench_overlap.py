"""Benchmark: communication overlap of the even-odd Wilson operator across MPI ranks.

Run under mpiexec (``mpiexec -n 2 python benchmarks/bench_overlap.py --size 16``): on an L^4 weak field
split over the ranks (the automatic process grid, or ``--grid``), the Schur complement Mhat^dag Mhat of
the Wilson-clover operator on the backend's fields (``--backend``, default numba where it imports) in
``--precision`` with ``--reconstruct``, timed with the hopping term overlapping its halo exchange with
the interior rows (interior rows first, boundary rows after the faces arrived) and without (wait for
the faces, then all rows). The two are timed round-robin (median of ``--repeat`` samples of ``--calls``
applications each, the ranks synchronized before each sample) and their results compared bit for bit.
Rank 0 prints a Markdown table. Exit status 1 where the results differ.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np
from mpi4py import MPI

from hpcmix.backends import DEFAULT_BACKEND, load_backend
from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import resolve
from hpcmix.registry import get_registry


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench_overlap", description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--grid", type=int, nargs=4, default=None, help="process grid X Y Z T (default: automatic)")
    ap.add_argument("--backend", default=DEFAULT_BACKEND)
    ap.add_argument("--precision", default="single")
    ap.add_argument("--reconstruct", type=int, default=18)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--calls", type=int, default=10)
    args = ap.parse_args(argv)
    comm = MPI.COMM_WORLD
    registry = get_registry()
    lattice = Lattice([args.size] * 4, args.grid)
    dirac = WilsonDirac(GaugeField.weak(lattice, 11, 0.3), 0.1, csw=1.0)
    fields = dirac.on_backend(load_backend(registry, args.backend))
    view = fields.at(resolve(registry, args.precision), args.reconstruct)
    op = view.schur(0)[0]
    rng = np.random.default_rng(1)
    b = lattice.scatter(rng.standard_normal(lattice.global_shape + (4, 3)) + 0j)
    x = fields.import_field(b)[0]

    def apply(overlap):
        view.overlap = overlap
        return op.adjoint()(op(x))

    results = {flag: apply(flag).local.copy() for flag in (True, False)}      # also compiles
    same = comm.allreduce(int(np.array_equal(results[True], results[False])), MPI.MIN) == 1
    times = {True: [], False: []}
    for _ in range(args.repeat):
        for flag in (True, False):
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(args.calls):
                apply(flag)
            comm.Barrier()
            times[flag].append((time.perf_counter() - t0) / args.calls)
    if comm.rank == 0:
        on, off = statistics.median(times[True]), statistics.median(times[False])
        print(f"# overlap benchmark\n\n`mpiexec -n {comm.size} python benchmarks/bench_overlap.py "
              f"{' '.join(sys.argv[1:] if argv is None else argv)}`\n\n{args.size}^4 on process grid "
              f"{lattice.pg.grid}, backend {args.backend}, {args.precision} reconstruct {args.reconstruct}, "
              f"NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', '(unset)')}; Mhat^dag Mhat (4 hops), "
              f"median of {args.repeat} x {args.calls}\n")
        print("| hop | ms per Mhat^dag Mhat | |\n|---|---:|---|")
        print(f"| overlapped (interior rows while faces fly) | {1e3 * on:.2f} | {off / on:.2f}x |")
        print(f"| not overlapped | {1e3 * off:.2f} | 1.00x |")
        print(f"\nresults bitwise equal: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
