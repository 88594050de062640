"""Benchmark: dense mixed-precision refinement against scipy/LAPACK dgesv, in one run, same matrices.

Speed (default): for each n, scipy.linalg.solve (LAPACK dgesv) and the bare LAPACK dgetrf + dgetrs,
then every factorization precision x refinement solver of :mod:`hpcmix.dense`; median wall time of
``--repeats`` interleaved rounds (conversion, factorization, refinement and any fallback included),
the speedup over both baselines, iterations, status code and the HPL-MxP scaled residual.

Table (``--table``): the TCAIRS-style summary on a set of 25 matrices of order ``--table-n``
(randsvd in the five LAPACK modes with condition numbers 1e1..1e12, HPL-MxP matrices, badly scaled
ones): per precision and solver, the median speed relative to fp64 (scipy's dgesv), the number of
fallbacks by code, and the largest HPL-MxP residual; then the outcome per matrix.

Every converged solve must meet HPL-MxP's rule (scaled residual <= 16); the exit status is 1 if one
does not. Usage: ``python benchmarks/bench_dense.py [--sizes 1024 2048 4096] [--table]``.
"""

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
import scipy
import scipy.linalg
from scipy.linalg import lapack

from hpcmix import dense
from hpcmix.dense import formats
from hpcmix.dense.refinement import METHODS

PRECISIONS = [p.name for p in formats.BUILTIN if p.name != "fp64"]
SHORT = {"classical": "c", "gmres": "g", "classical_gmres": "cg"}


def timed(fn, repeats):
    """(median seconds, last return value) of ``repeats`` calls."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def interleaved(runs, repeats):
    """Median seconds and last value of each of ``runs`` (name -> callable), timed in ``repeats``
    rounds that call every one in turn, so that a change in the machine's load hits all alike."""
    times = {name: [] for name in runs}
    out = {}
    for _ in range(repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            out[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}, out


def lapack_getrf_getrs(A, b):
    """dgesv's work without scipy's checks: LU of the Fortran-ordered A^T (A is C-ordered), then a
    transposed solve."""
    lu, piv, _ = lapack.dgetrf(A.T)
    x, _ = lapack.dgetrs(lu, piv, b, trans=1)
    return x


def header():
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    print(f"# hpcmix dense refinement benchmark\n\n{platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; numpy {np.__version__} ({blas.get('name', '?')} {blas.get('version', '')}), "
          f"scipy {scipy.__version__}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}\n")


def speed(sizes, precisions, methods, repeats, matrix, cond, mode):
    ok = True
    for n in sizes:
        t0 = time.perf_counter()
        if matrix == "randsvd":
            A, what = dense.randsvd(n, cond, mode, seed=n), f"randsvd, cond {cond:.0e}, mode {mode}"
        else:
            A, what = dense.hpl_mxp(n, seed=n), "HPL-MxP matrix"
        b = dense.random_rhs(n, seed=n)
        print(f"## n = {n}: {what} (generated in {time.perf_counter() - t0:.1f} s); median of {repeats}\n")
        runs = {"scipy": lambda: scipy.linalg.solve(A, b), "lapack": lambda: lapack_getrf_getrs(A, b)}
        for prec in precisions:
            for method in methods:
                runs[prec, method] = lambda p=prec, m=method: dense.solve(A, b, p, m, backend="numpy")
        t, out = interleaved(runs, repeats)
        t_scipy, t_lapack = t["scipy"], t["lapack"]
        print("| solver | seconds | vs scipy.solve | vs LAPACK getrf+getrs | iters | code | HPL-MxP residual |")
        print("|---|---|---|---|---|---|---|")
        print(f"| scipy.linalg.solve (dgesv) | {t_scipy:.3f} | 1.00 | {t_lapack / t_scipy:.2f} | - | - | "
              f"{dense.hpl_mxp_ratio(A, out['scipy'], b):.3g} |")
        print(f"| LAPACK dgetrf+dgetrs | {t_lapack:.3f} | {t_scipy / t_lapack:.2f} | 1.00 | - | - | "
              f"{dense.hpl_mxp_ratio(A, out['lapack'], b):.3g} |")
        for prec in precisions:
            for method in methods:
                res, tm = out[prec, method], t[prec, method]
                ok &= res.backward_error <= dense.HPL_THRESHOLD or not res.converged
                code = f"{res.code}{' (fell back)' if res.fell_back else ''}"
                print(f"| {prec} + {method} | {tm:.3f} | {t_scipy / tm:.2f} | {t_lapack / tm:.2f} | {res.niters} | "
                      f"{code} | {res.backward_error:.3g} |")
        print()
    return ok


def table_matrices(n):
    """The 25 matrices of the table: (label, cond label, A)."""
    out = []
    for mode in (1, 2, 3, 4, 5):
        for cond in (1e2, 1e6, 1e10):
            out.append((f"randsvd mode {mode}", cond, lambda m=mode, c=cond: dense.randsvd(n, c, m, seed=m)))
    for cond in (1e1, 1e4, 1e8, 1e12):
        out.append(("randsvd mode 3", cond, lambda c=cond: dense.randsvd(n, c, 3, seed=7)))
    out.append(("randsvd mode 2", 1e12, lambda: dense.randsvd(n, 1e12, 2, seed=8)))
    for seed in (1, 2):
        out.append((f"HPL-MxP seed {seed}", None, lambda s=seed: dense.hpl_mxp(n, seed=s)))
    out.append(("badly scaled, 2 decades", 1e2, lambda: dense.badly_scaled(n, 1e2, decades=2, seed=1)))
    out.append(("badly scaled, 3 decades", 1e3, lambda: dense.badly_scaled(n, 1e3, decades=3, seed=2)))
    out.append(("randsvd x 1e6 (beyond fp16)", 1e3, lambda: dense.randsvd(n, 1e3, 2, seed=3, scale=1e6)))
    return out


def table(n, precisions, methods, repeats):
    ok = True
    rows = {(p, m): {"speed": [], "codes": [], "ratios": [], "iters": []} for p in precisions for m in methods}
    detail = []
    print(f"## TCAIRS-style table: {len(table_matrices(n))} matrices of order {n}, median of {repeats}\n")
    for label, cond, make in table_matrices(n):
        A = make()
        b = dense.random_rhs(n, seed=3)
        t64, _ = timed(lambda: scipy.linalg.solve(A, b), repeats)
        cells = []
        for p in precisions:
            cell = []
            for m in methods:
                t, res = timed(lambda: dense.solve(A, b, p, m, backend="numpy"), repeats)
                r = rows[p, m]
                r["speed"].append(t64 / t)
                r["codes"].append(res.code)
                r["ratios"].append(res.backward_error)
                if res.code == dense.SUCCESS:
                    r["iters"].append(res.niters)
                ok &= res.backward_error <= dense.HPL_THRESHOLD or not res.converged
                cell.append(str(res.niters) if res.code == dense.SUCCESS else f"FB{res.code}")
            cells.append("/".join(cell))
        detail.append((label, "-" if cond is None else f"{cond:.0e}", cells))
    print("| precision | solver | speed vs fp64 (median) | converged in low precision | fallbacks "
          "(-2/-3/-5/-50) | mean iterations | max HPL-MxP residual |")
    print("|---|---|---|---|---|---|---|")
    for (p, m), r in rows.items():
        codes = r["codes"]
        falls = "/".join(str(codes.count(c)) for c in (dense.CONVERSION_OVERFLOW, dense.FACTORIZATION_FAILURE,
                                                        dense.REFINEMENT_OVERFLOW, dense.NO_CONVERGENCE))
        iters = f"{np.mean(r['iters']):.1f}" if r["iters"] else "-"
        print(f"| {p} | {m} | {statistics.median(r['speed']):.2f} | {codes.count(0)}/{len(codes)} | "
              f"{len(codes) - codes.count(0)} ({falls}) | {iters} | {max(r['ratios']):.3g} |")
    print(f"\nPer matrix: iterations with {' / '.join(methods)} refinement, or FB<code> where the solve fell "
          "back to fp64.\n")
    print("| matrix | cond | " + " | ".join(precisions) + " |")
    print("|---|---|" + "---|" * len(precisions))
    for label, cond, cells in detail:
        print(f"| {label} | {cond} | " + " | ".join(cells) + " |")
    print()
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(prog="hpcmix bench dense", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096], help="orders n for the speed runs")
    ap.add_argument("--repeats", type=int, default=5, help="runs per measurement (the median is reported)")
    ap.add_argument("--matrix", choices=("hpl_mxp", "randsvd"), default="hpl_mxp", help="speed-run matrices")
    ap.add_argument("--cond", type=float, default=1e4, help="condition number of the speed-run randsvd matrices")
    ap.add_argument("--mode", type=int, default=3, choices=dense.generators.MODES,
                    help="randsvd mode of the speed runs")
    ap.add_argument("--precisions", nargs="+", default=PRECISIONS, choices=formats.names(),
                    help="factorization precisions")
    ap.add_argument("--refinements", nargs="+", default=list(METHODS), choices=METHODS, help="refinement solvers")
    ap.add_argument("--table", action="store_true", help="print the TCAIRS-style table instead of the speed runs")
    ap.add_argument("--table-n", type=int, default=1024, help="order of the table's matrices")
    ap.add_argument("--table-repeats", type=int, default=1, help="runs per table measurement")
    args = ap.parse_args(argv)
    header()
    if args.table:
        ok = table(args.table_n, args.precisions, args.refinements, args.table_repeats)
    else:
        ok = speed(args.sizes, args.precisions, args.refinements, args.repeats, args.matrix, args.cond, args.mode)
    if not ok:
        print("FAILED: a converged solve broke the HPL-MxP rule (scaled residual > 16)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
