"""Benchmark: dense mixed-precision refinement against a float64 solve, in one run, same matrices.

Speed (default): for each n, the float64 baselines, then every factorization precision x refinement solver
of :mod:`hpcmix.dense` on the backend ``--backend`` (default numpy); median wall time of ``--repeats``
interleaved rounds (conversion, factorization, refinement and any fallback included), the speedup over
every baseline, iterations, status code and the HPL-MxP scaled residual with its verdict (<= 16 passes).
The baselines: on a CPU backend scipy.linalg.solve (LAPACK dgesv) and the bare LAPACK dgetrf + dgetrs; on
a device backend (``--backend cupy`` on a GPU) the backend's own float64 solve, ``cupy.linalg.solve``. Every
timed solve starts from A and b on the host and ends with x on the host: the dense solves copy A to the
device themselves, so the device baseline's timing includes copying A and b there as well (the output says
so). Issue 12's GPU target: ``hpcmix bench dense --backend cupy --sizes 32768
--precisions fp16 bf16 --refinements gmres`` at least 2.5x faster than cupy's float64 solve, passing.

Table (``--table``): the TCAIRS-style summary on a set of 25 matrices of order ``--table-n``
(randsvd in the five LAPACK modes with condition numbers 1e1..1e12, HPL-MxP matrices, badly scaled
ones): per precision and solver, the median speed relative to fp64 (the first baseline: scipy's dgesv, or
the device's float64 solve), the number of fallbacks by code, and the largest HPL-MxP residual; then the
outcome per matrix.

Every converged solve must meet HPL-MxP's rule (scaled residual <= 16); the exit status is 1 if one
does not. Usage: ``python benchmarks/bench_dense.py [--sizes 1024 2048 4096] [--table] [--backend NAME]``
(an unavailable backend is one error, as in every benchmark).
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
from hpcmix.backends import load_backend
from hpcmix.dense import formats
from hpcmix.dense.refinement import METHODS
from hpcmix.registry import get_registry

PRECISIONS = [p.name for p in formats.BUILTIN if p.name != "fp64"]
SHORT = {"classical": "c", "gmres": "g", "classical_gmres": "cg"}
DEVICE_NOTE = ("Every timing, the float64 baseline's included, starts from A and b on the host and includes copying A "
               "to the device.\n")


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


def baselines(A, b, backend):
    """The float64 solves the dense ones are measured against, {key: (row label, column label, callable
    taking A and b on the host and returning x on the host)}: scipy's dgesv and bare LAPACK on a CPU backend; on
    a device backend its own float64 solve (``xp.linalg.solve``, cupy's cuSOLVER getrf + getrs) on A and b copied
    to the device in the call, as the dense solves copy A there in theirs."""
    xp = backend.xp
    if xp is np:
        return {"scipy": ("scipy.linalg.solve (dgesv)", "scipy.solve", lambda: scipy.linalg.solve(A, b)),
                "lapack": ("LAPACK dgetrf+dgetrs", "LAPACK getrf+getrs", lambda: lapack_getrf_getrs(A, b))}
    name = f"{xp.__name__}.linalg.solve"
    return {"device": (f"{name} (float64, A copied to the device)", name,   # to_host waits for the device
                       lambda: backend.to_host(xp.linalg.solve(backend.asarray(A), backend.asarray(b))))}


def verdict(ratio):
    """HPL-MxP's scaled residual and whether it passes the rule."""
    return f"{ratio:.3g} {'pass' if ratio <= dense.HPL_THRESHOLD else 'FAIL'}"


def header():
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    print(f"# hpcmix dense refinement benchmark\n\n{platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; numpy {np.__version__} ({blas.get('name', '?')} {blas.get('version', '')}), "
          f"scipy {scipy.__version__}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}\n")


def runs_for(A, b, precisions, methods, backend):
    """({key: callable} of the baselines and of the dense solves on ``backend``, :func:`baselines`' dict)."""
    base = baselines(A, b, backend)
    runs = {key: fn for key, (_, _, fn) in base.items()}
    for prec in precisions:
        for method in methods:
            runs[prec, method] = lambda p=prec, m=method: dense.solve(A, b, p, m, backend=backend)
    return runs, base


def speed(sizes, precisions, methods, repeats, matrix, cond, mode, backend):
    ok = True
    if backend.xp is not np:     # a device's first calls compile kernels and make library handles: not timed
        A = dense.hpl_mxp(512, seed=0)
        interleaved(runs_for(A, dense.random_rhs(512), precisions, methods, backend)[0], 1)
    for n in sizes:
        t0 = time.perf_counter()
        if matrix == "randsvd":
            A, what = dense.randsvd(n, cond, mode, seed=n), f"randsvd, cond {cond:.0e}, mode {mode}"
        else:
            A, what = dense.hpl_mxp(n, seed=n), "HPL-MxP matrix"
        b = dense.random_rhs(n, seed=n)
        print(f"## n = {n}: {what} (generated in {time.perf_counter() - t0:.1f} s); backend {backend.name}; "
              f"median of {repeats}\n")
        if backend.xp is not np:
            print(DEVICE_NOTE)
        runs, base = runs_for(A, b, precisions, methods, backend)
        t, out = interleaved(runs, repeats)

        def speedups(tm):
            return " | ".join(f"{t[key] / tm:.2f}" for key in base)
        print("| solver | seconds | " + " | ".join(f"vs {column}" for _, column, _ in base.values())
              + " | iters | code | HPL-MxP residual |")
        print("|---|---|" + "---|" * len(base) + "---|---|---|")
        for key, (label, _, _) in base.items():
            ratio = dense.hpl_mxp_ratio(A, out[key], b)
            print(f"| {label} | {t[key]:.3f} | {speedups(t[key])} | - | - | {verdict(ratio)} |")
        for prec in precisions:
            for method in methods:
                res, tm = out[prec, method], t[prec, method]
                ok &= res.backward_error <= dense.HPL_THRESHOLD or not res.converged
                code = f"{res.code}{' (fell back)' if res.fell_back else ''}"
                print(f"| {prec} + {method} | {tm:.3f} | {speedups(tm)} | {res.niters} | {code} | "
                      f"{verdict(res.backward_error)} |")
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


def table(n, precisions, methods, repeats, backend):
    ok = True
    rows = {(p, m): {"speed": [], "codes": [], "ratios": [], "iters": []} for p in precisions for m in methods}
    detail = []
    print(f"## TCAIRS-style table: {len(table_matrices(n))} matrices of order {n}, median of {repeats}\n")
    if backend.xp is not np:
        print(DEVICE_NOTE)
    for label, cond, make in table_matrices(n):
        A = make()
        b = dense.random_rhs(n, seed=3)
        t64, _ = timed(next(iter(baselines(A, b, backend).values()))[2], repeats)
        cells = []
        for p in precisions:
            cell = []
            for m in methods:
                t, res = timed(lambda: dense.solve(A, b, p, m, backend=backend), repeats)
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
    ap.add_argument("--backend", default="numpy", help="registered backend the dense solves run on (numpy, numba, "
                    "cupy); on a device backend the baseline is its float64 solve on the device (cupy.linalg.solve)")
    ap.add_argument("--table", action="store_true", help="print the TCAIRS-style table instead of the speed runs")
    ap.add_argument("--table-n", type=int, default=1024, help="order of the table's matrices")
    ap.add_argument("--table-repeats", type=int, default=1, help="runs per table measurement")
    args = ap.parse_args(argv)
    backend = load_backend(get_registry(), args.backend)
    header()
    if args.table:
        ok = table(args.table_n, args.precisions, args.refinements, args.table_repeats, backend)
    else:
        ok = speed(args.sizes, args.precisions, args.refinements, args.repeats, args.matrix, args.cond, args.mode,
                   backend)
    if not ok:
        print("FAILED: a converged solve broke the HPL-MxP rule (scaled residual > 16)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
