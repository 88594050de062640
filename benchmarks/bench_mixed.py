"""Benchmark: mixed-precision CG (QUDA's reliable updates) against pure double CG, in one run.

Problem: the real quenched configuration ``lat.sample.l8888`` (8^4, Wilson gauge action at beta
6.0, from the shared data) tiled 2x in every direction to 16^4 (``np.tile`` of the canonical array;
``--size 8`` uses it as it is); Wilson fermions at kappa 0.150 (``--kappa``; ``--csw`` > 0 for
Wilson-clover), a point source, even-odd preconditioned CG (CGNR on the Schur complement) to a
true residual of 1e-10 (``--tol``), recomputed here in double with the double operator. One double
solve takes about 4 minutes at 16^4 on one core of a 2-core x86_64 (kappa 0.155: 7 minutes, 304
iterations; the 16^4 lattice, antiperiodic in 16, has lower modes than the 8^4 one).

Speed (default): for double and double-single, double-half, double-quarter (``--precisions``), the
median wall time of ``--repeats`` solves (interleaved, so that load changes on a shared machine hit
every precision alike), iterations, reliable updates, the time per precision and the speedup
t(double) / t(mixed).

Table (``--table``): iterations on the 8^4 configuration for Wilson at kappa 0.155 and
Wilson-clover at kappa 0.140, c_sw 1.0: double CG, double-single and double-half CG, and restarted
defect correction at the same precisions (the comparison tests/test_mixed_l8888.py asserts).

Backend (``--backend``, default numba where it imports): the solves run on that backend's even-odd
fields (the conversion of b and x to and from them is not timed; every kernel is compiled, or loaded
from the on-disk cache, by an untimed loose solve first). On the numba backend the stencil is
bandwidth bound, so the sloppy operators' 2x (single) and 4x (half) fewer bytes per field turn into
time; on the numpy reference the per-site matrix products dominate and fewer bits gain little.
``--numpy-once`` adds one double solve on the numpy backend for comparison.

Usage: ``python benchmarks/bench_mixed.py [--size 8] [--repeats 3] [--table] [--backend numba]`` or
``hpcmix bench mixed``.
Exit status 1 if a solve misses its tolerance.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from hpcmix.backends import DEFAULT_BACKEND, load_backend
from hpcmix.fields import GaugeField
from hpcmix.io.milc import MILCGaugeFormat
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass
from hpcmix.registry import get_registry
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.cg import CG
from hpcmix.solvers.defect_correction import DefectCorrection

DATA = Path(os.environ.get("HPCMIX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
GAUGE = DATA / "gauge" / "milc" / "lat.sample.l8888"
#: The operators of the iteration table: (name, kappa, c_sw).
TABLE_OPERATORS = [("Wilson", 0.155, 0.0), ("Wilson-clover", 0.140, 1.0)]


def load_gauge(path, size):
    """The 8^4 configuration at ``path``, tiled to ``size``^4 (``size`` a multiple of 8)."""
    if size % 8:
        raise SystemExit(f"--size must be a multiple of 8, got {size}")
    small = MILCGaugeFormat().read(path, Lattice([8, 8, 8, 8], comm=MPI.COMM_SELF))   # whole, on every rank
    reps = size // 8
    lattice = Lattice([size] * 4)
    return GaugeField(lattice, lattice.scatter(np.tile(small.U, (reps, reps, reps, reps, 1, 1, 1))))


def point_source(lattice):
    b = lattice.zeros((4, 3))
    here = lattice.owns([0, 0, 0, 0])
    if here is not None:
        b[here + (0, 0)] = 1.0
    return b


def dirac_for(gauge, kappa, csw):
    return WilsonDirac(gauge, kappa_to_mass(kappa), csw=csw, clover=csw != 0)


def solve(dirac, b, solver, backend=None):
    """(result, seconds, true residual |b - M x| / |b| in double, recomputed by the canonical numpy
    operator): on ``backend``'s fields where given (the conversions of b and x are not timed), else on
    canonical numpy arrays."""
    if backend is None:
        t0 = time.perf_counter()
        res = EvenOdd(solver)(dirac).solve(b)
        seconds = time.perf_counter() - t0
    else:
        fields = dirac.on_backend(backend)
        bf = fields.import_field(b)
        t0 = time.perf_counter()
        res = EvenOdd(solver)(fields).solve(bf)
        seconds = time.perf_counter() - t0
        res.x = fields.export_field(res.x)
    lat = dirac.lattice
    return res, seconds, float(np.sqrt(lat.norm2(b - dirac.M(res.x)) / lat.norm2(b)))


def iteration_table(gauge, tol=1e-10, sloppy=("single", "half")):
    """Rows ``{operator, solver, precision, iterations, reliable_updates, restarts, true_residual}`` of
    the 8^4 comparison: double CG, mixed CG and defect correction at each sloppy precision."""
    b = point_source(gauge.lattice)
    rows = []
    for name, kappa, csw in TABLE_OPERATORS:
        dirac = dirac_for(gauge, kappa, csw)
        runs = [("CG", "double", CG(tol=tol))]
        runs += [("CG", f"double-{s}", CG(tol=tol, sloppy=s)) for s in sloppy]
        runs += [("defect correction", f"double-{s}", DefectCorrection(tol=tol, sloppy=s)) for s in sloppy]
        for solver_name, pair, solver in runs:
            res, _, true_res = solve(dirac, b, solver)
            rows.append({"operator": f"{name} kappa {kappa}" + (f" c_sw {csw}" if csw else ""),
                         "solver": solver_name, "precision": pair, "iterations": res.iterations,
                         "reliable_updates": res.reliable_updates, "restarts": res.restarts,
                         "true_residual": true_res})
    return rows


def print_table(rows):
    print("| operator | solver | precision | iterations | reliable updates | restarts | true residual |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['operator']} | {r['solver']} | {r['precision']} | {r['iterations']} | {r['reliable_updates']} | "
              f"{r['restarts']} | {r['true_residual']:.2e} |")


def speed(gauge, args):
    """Median time to solution per precision pair on ``args.backend`` (and, with ``--numpy-once``, one
    double solve on the numpy backend); returns False if a solve missed the tolerance."""
    dirac = dirac_for(gauge, args.kappa, args.csw)
    b = point_source(gauge.lattice)
    backend = None if args.backend == "canonical" else load_backend(get_registry(), args.backend)
    pairs = ["double"] + list(args.precisions)
    times = {p: [] for p in pairs}
    last = {}
    ok = True
    if backend is not None:        # compile (or load from the cache) every kernel the solves use, untimed
        for p in pairs:
            solve(dirac, b, CG(tol=1e-2, sloppy=p, reconstruct_sloppy=args.reconstruct_sloppy), backend)
    for _ in range(args.repeats):
        for p in pairs:
            solver = CG(tol=args.tol, sloppy=p, reconstruct_sloppy=args.reconstruct_sloppy) if p != "double" \
                else CG(tol=args.tol)
            res, seconds, true_res = solve(dirac, b, solver, backend)
            times[p].append(seconds)
            last[p] = (res, true_res)
            ok &= true_res <= args.tol
            print(f"  {p}: {seconds:.1f} s, {res.iterations} iterations, true residual {true_res:.2e}",
                  file=sys.stderr, flush=True)
    base = statistics.median(times["double"])
    print(f"Wilson{'-clover c_sw ' + str(args.csw) if args.csw else ''} kappa {args.kappa} on {gauge.lattice.dims}, "
          f"tol {args.tol}, reconstruct_sloppy {args.reconstruct_sloppy}, median of {args.repeats}\n")
    print("| precision | time (s) | speedup vs double | iterations | reliable updates | time per precision (s) | "
          "true residual |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for p in pairs:
        res, true_res = last[p]
        t = statistics.median(times[p])
        per = ", ".join(f"{k} {v:.1f}" for k, v in res.timings.items())
        label = p if p == "double" else f"double-{p}"
        print(f"| {label} | {t:.1f} | {base / t:.2f} | {res.iterations} | {res.reliable_updates} | {per} | "
              f"{true_res:.2e} |")
    if args.numpy_once:
        res, seconds, true_res = solve(dirac, b, CG(tol=args.tol), load_backend(get_registry(), "numpy"))
        ok &= true_res <= args.tol
        print(f"\nnumpy backend, double, one solve: {seconds:.1f} s, {res.iterations} iterations, true residual "
              f"{true_res:.2e}; {args.backend} double-{pairs[-1]} is {seconds / statistics.median(times[pairs[-1]]):.1f}x "
              f"faster, {args.backend} double {seconds / base:.1f}x")
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench_mixed", description=__doc__.split("\n\n")[0])
    ap.add_argument("--gauge", type=Path, default=GAUGE, help="the 8^4 MILC configuration")
    ap.add_argument("--size", type=int, default=16, help="lattice extent (a multiple of 8; 8 = untiled)")
    ap.add_argument("--kappa", type=float, default=0.150)
    ap.add_argument("--csw", type=float, default=0.0, help="clover coefficient (0: Wilson)")
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--precisions", nargs="+", default=["single", "half", "quarter"], help="sloppy precisions")
    ap.add_argument("--reconstruct-sloppy", type=int, default=18, dest="reconstruct_sloppy")
    ap.add_argument("--table", action="store_true", help="the 8^4 iteration table instead of the timings")
    ap.add_argument("--backend", default=DEFAULT_BACKEND, help="backend of the timed solves ('canonical': numpy on "
                    "whole-lattice arrays, the path before backend fields)")
    ap.add_argument("--numpy-once", action="store_true", dest="numpy_once",
                    help="also time one double solve on the numpy backend")
    args = ap.parse_args(argv)
    if not args.gauge.is_file():
        print(f"bench_mixed: configuration not found: {args.gauge} (set HPCMIX_SHARED_DATA or --gauge)",
              file=sys.stderr)
        return 2
    print(f"# hpcmix mixed-precision CG benchmark\n\n{platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, numpy {np.__version__}, backend {args.backend}\n")
    if args.table:
        rows = iteration_table(load_gauge(args.gauge, 8), args.tol)
        print_table(rows)
        return 0 if all(r["true_residual"] <= args.tol for r in rows) else 1
    return 0 if speed(load_gauge(args.gauge, args.size), args) else 1


if __name__ == "__main__":
    sys.exit(main())
