"""Benchmark: adaptive multigrid (MG-GCR) against unpreconditioned GCR and even-odd CG, over a kappa ladder, in one run.

Problem: the real quenched configuration ``lat.sample.l8888`` (8^4, Wilson gauge action at beta 6.0, from the
shared data; ``--size 16`` tiles it 2x in every direction), Wilson fermions (``--csw`` > 0 for Wilson-clover) at
each kappa of ``--kappas`` (default 0.13 0.15 0.155 0.157), a random source (the same for every solver), true
residual 1e-10 (``--tol``) recomputed here with the canonical numpy operator.

Per kappa, on the backend's fields (default numba):
- MG-GCR: ``multigrid`` (two levels, ``--block`` and ``--n-vec``; K-cycle with even-odd MR post-smoothing, coarse
  GCR to 0.25 in single) as the preconditioner of flexible GCR in double on the full M: setup seconds, outer
  iterations, coarse iterations, solve seconds, and the time per right-hand side with the setup amortized over
  ``--rhs`` (12: a propagator);
- the fine-lattice work of each: MG's applications of M on the fine lattice (the smoothing steps, each K-cycle's
  residual update and each outer GCR iteration; an even-odd smoothing pass's Schur steps and its prepare and
  reconstruct hops counted as one M each, in the K-cycle's precision) against double-half CG's (two Schur
  operators per iteration, one M each, in half): where MG's fine work alone nears half of CG's, no coarse
  solve, transfer or setup however fast makes MG 2x faster than CG;
- plain GCR (nkrylov 32) on the full M: iterations and seconds (``--no-gcr`` leaves it out);
- even-odd CG on the normal equations of the Schur complement, double and double-half (reliable updates);
- PyAMG (where it imports; one process): smoothed aggregation (``symmetry = "hermitian"``) as the
  preconditioner of CG on the normal equations M^dag M x = M^dag b, M the scipy CSR matrix that
  bench_dslash builds (checked against ``WilsonDirac.M``), to a relative normal residual of tol / 10; setup
  and solve seconds, iterations and the true residual |b - M x| / |b| (``--no-pyamg`` leaves it out).

Usage: ``python benchmarks/bench_multigrid.py [--size 8] [--kappas 0.15 0.157] [--block 2 2 2 2]`` or
``hpcmix bench multigrid``. Exit status 1 if a solve misses its tolerance.
"""

import argparse
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from hpcmix.backends import DEFAULT_BACKEND, blas_threads, host_memory, load_backend
from hpcmix.fields import GaugeField
from hpcmix.io.milc import MILCGaugeFormat
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass
from hpcmix.registry import get_registry
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.cg import CG
from hpcmix.solvers.gcr import GCR
from hpcmix.solvers.multigrid import Multigrid

DATA = Path(os.environ.get("HPCMIX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
GAUGE = DATA / "gauge" / "milc" / "lat.sample.l8888"


def load_gauge(path, size):
    """The 8^4 configuration at ``path``, tiled to ``size``^4 (``size`` a multiple of 8)."""
    small = MILCGaugeFormat().read(path, Lattice([8, 8, 8, 8], comm=MPI.COMM_SELF))
    reps = size // 8
    lattice = Lattice([size] * 4)
    return GaugeField(lattice, lattice.scatter(np.tile(small.U, (reps, reps, reps, reps, 1, 1, 1))))


def source(lattice, seed=5):
    """A complex Gaussian source, drawn over the global lattice."""
    rng = np.random.default_rng(seed)
    shape = lattice.global_shape + (4, 3)
    return lattice.scatter(rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


def timed(fn, backend=None):
    """(fn(), its seconds less the kernels ``backend`` loaded or compiled meanwhile: a fresh process's first
    solve would otherwise pay for loading every kernel it uses from the cache)."""
    loading = getattr(backend, "compile_seconds", 0.0)
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0 - (getattr(backend, "compile_seconds", 0.0) - loading)


def row(gauge, kappa, csw, backend, tol=1e-10, block=(4, 2, 2, 2), n_vec=24, rhs=12, gcr=True, pyamg=False,
        sloppy="double", level2=None, **mg_keys):
    """One kappa of the table: a dict of iterations, seconds and true residuals (recomputed with the canonical
    operator) of MG-GCR (its outer GCR's sloppy cycles in ``sloppy``), plain GCR (where ``gcr``) and even-odd
    CG in double and double-half."""
    dirac = WilsonDirac(gauge, kappa_to_mass(kappa), csw=csw, clover=csw != 0)
    fields = dirac.on_backend(backend)
    b = source(gauge.lattice)
    bf, op = fields.import_field(b), fields.operator()
    lat = gauge.lattice

    def true_res(x):
        return float(np.sqrt(lat.norm2(b - dirac.M(fields.export_field(x))) / lat.norm2(b)))

    out = {"kappa": kappa, "csw": csw}
    levels = [{"block": list(block), "n_vec": n_vec}] + ([{"block": list(level2), "n_vec": n_vec}] if level2 else [])
    mg = Multigrid(levels=levels, **mg_keys)
    _, out["setup_s"] = timed(lambda: mg.setup(fields), backend)
    outer = GCR(tol=tol, nkrylov=16, maxiter=1000, preconditioner=mg, sloppy=sloppy)
    res, out["mg_s"] = timed(lambda: outer.solve(op, bf), backend)
    stats = mg.hierarchy.levels[0].stats
    out.update(mg_its=res.iterations, coarse_its=stats["coarse_iterations"], mg_res=true_res(res.x),
               mg_fine_applications=stats["operator_applications"] + res.iterations,
               mg_per_rhs_s=out["mg_s"] + out["setup_s"] / rhs, levels=[
                   {k: lev.stats.get(k) for k in ("coarsest", "coarse_iterations", "coarse_seconds",
                                                  "coarsest_setup_seconds")} for lev in mg.hierarchy.levels])
    if gcr:
        res, out["gcr_s"] = timed(lambda: GCR(tol=tol, nkrylov=32, maxiter=5000).solve(op, bf), backend)
        out.update(gcr_its=res.iterations, gcr_res=true_res(res.x))
    for name, solver in (("cg", CG(tol=tol)), ("cg_half", CG(tol=tol, sloppy="half"))):
        res, out[f"{name}_s"] = timed(lambda solver=solver: EvenOdd(solver)(fields).solve(bf), backend)
        out.update({f"{name}_its": res.iterations, f"{name}_res": true_res(res.x),
                    f"{name}_fine_applications": 2 * res.iterations})
    if pyamg:
        out.update(pyamg_row(dirac, b, tol))
    return out


def pyamg_row(dirac, b, tol):
    """PyAMG's smoothed aggregation + CG on M^dag M x = M^dag b (module doc), one process."""
    import pyamg
    import scipy.sparse as sparse
    spec = importlib.util.spec_from_file_location("bench_dslash", Path(__file__).with_name("bench_dslash.py"))
    bench_dslash = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_dslash)
    m = bench_dslash.wilson_csr(dirac)
    a = sparse.csr_array(m.conj().T @ m)
    rhs = m.conj().T @ b.ravel()
    ml, setup = timed(lambda: pyamg.smoothed_aggregation_solver(a, symmetry="hermitian"))
    residuals = []
    x, solve = timed(lambda: ml.solve(rhs, tol=tol / 10, accel="cg", maxiter=5000, residuals=residuals))
    true = float(np.linalg.norm(b.ravel() - m @ x) / np.linalg.norm(b))
    return {"pyamg_setup_s": setup, "pyamg_s": solve, "pyamg_its": len(residuals) - 1, "pyamg_res": true}


def print_table(rows):
    print("| kappa | MG setup (s) | MG-GCR its | coarse its | MG solve (s) | MG per rhs, setup / 12 (s) | GCR its | "
          "GCR (s) | eo CG its | eo CG (s) | eo CG double-half its | double-half (s) | PyAMG SA setup (s) | "
          "PyAMG its | PyAMG solve (s) | PyAMG true residual |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        gcr = f"{r['gcr_its']} | {r['gcr_s']:.1f}" if "gcr_its" in r else "- | -"
        amg = (f"{r['pyamg_setup_s']:.1f} | {r['pyamg_its']} | {r['pyamg_s']:.1f} | {r['pyamg_res']:.1e}"
               if "pyamg_its" in r else "- | - | - | -")
        print(f"| {r['kappa']} | {r['setup_s']:.1f} | {r['mg_its']} | {r['coarse_its']} | {r['mg_s']:.1f} | "
              f"{r['mg_per_rhs_s']:.1f} | {gcr} | {r['cg_its']} | {r['cg_s']:.1f} | {r['cg_half_its']} | "
              f"{r['cg_half_s']:.1f} | {amg} |")
    print("\nFine-lattice work per right-hand side (applications of M; module doc):\n")
    print("| kappa | MG: fine M applications | per outer iteration | double-half CG: M applications | MG / CG |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        mg, cg = r["mg_fine_applications"], r["cg_half_fine_applications"]
        print(f"| {r['kappa']} | {mg} | {mg / r['mg_its']:.1f} | {cg} | {mg / cg:.2f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench_multigrid", description=__doc__.split("\n\n")[0])
    ap.add_argument("--gauge", type=Path, default=GAUGE, help="the 8^4 MILC configuration")
    ap.add_argument("--size", type=int, default=8, help="lattice extent (a multiple of 8; 8 = untiled)")
    ap.add_argument("--kappas", type=float, nargs="+", default=[0.13, 0.15, 0.155, 0.157])
    ap.add_argument("--csw", type=float, default=0.0, help="clover coefficient (0: Wilson)")
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--block", type=int, nargs=4, default=[4, 2, 2, 2], help="block of the coarsening")
    ap.add_argument("--n-vec", type=int, default=24, dest="n_vec")
    ap.add_argument("--level2", type=int, nargs=4, default=None, help="block of a second coarsening (3 levels)")
    ap.add_argument("--coarsest", default="auto", choices=("auto", "lu", "gcr"),
                    help="the coarsest level's solver (the multigrid key coarsest)")
    ap.add_argument("--no-gcr", action="store_false", dest="gcr", help="leave out plain GCR")
    ap.add_argument("--no-pyamg", action="store_false", dest="pyamg", help="leave out PyAMG")
    ap.add_argument("--backend", default=DEFAULT_BACKEND)
    ap.add_argument("--sloppy", default="double", help="precision of the outer GCR's sloppy cycles (single: the same "
                    "iterations, about a quarter less time)")
    ap.add_argument("--null-precision", default="double", dest="null_precision",
                    help="sloppy precision of the setup's BiCGstab (the multigrid key null_precision)")
    ap.add_argument("--nu-pre", type=int, default=0, dest="nu_pre", help="pre-smoothing steps (multigrid key nu_pre)")
    ap.add_argument("--nu-post", type=int, default=4, dest="nu_post",
                    help="post-smoothing steps (multigrid key nu_post)")
    ap.add_argument("--smoother-kind", default="mr", choices=("mr", "gcr"), dest="smoother_kind",
                    help="MR or GCR smoothing steps (multigrid key smoother_kind)")
    args = ap.parse_args(argv)
    if not args.gauge.is_file() or args.size % 8:
        print(f"bench_multigrid: configuration not found ({args.gauge}; set HPCMIX_SHARED_DATA or --gauge) or "
              f"--size {args.size} not a multiple of 8", file=sys.stderr)
        return 2
    backend = load_backend(get_registry(), args.backend)
    print(f"# hpcmix multigrid benchmark\n\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"numpy {np.__version__}, backend {args.backend} ({backend.threads} thread(s)), {args.size}^4, c_sw "
          f"{args.csw}, block {args.block}, n_vec {args.n_vec}, second coarsening {args.level2}, coarsest "
          f"{args.coarsest}, tol {args.tol}, outer GCR sloppy {args.sloppy}, null vectors' sloppy "
          f"{args.null_precision}, {args.smoother_kind} smoothing {args.nu_pre} / {args.nu_post}; "
          f"{blas_threads.describe()}; {host_memory.describe()}\n")
    gauge = load_gauge(args.gauge, args.size)
    rows = []
    for kappa in args.kappas:
        rows.append(row(gauge, kappa, args.csw, backend, args.tol, args.block, args.n_vec, gcr=args.gcr,
                        pyamg=args.pyamg and MPI.COMM_WORLD.size == 1 and importlib.util.find_spec("pyamg") is not None,
                        sloppy=args.sloppy, null_precision=args.null_precision, level2=args.level2,
                        coarsest=args.coarsest, nu_pre=args.nu_pre, nu_post=args.nu_post,
                        smoother_kind=args.smoother_kind))
        print(f"  kappa {kappa} done", file=sys.stderr, flush=True)
    print_table(rows)
    print(f"kernels loaded or compiled: {getattr(backend, 'compile_seconds', 0.0):.1f} s (left out of every time above)")
    if args.level2:
        for r in rows:
            print(f"kappa {r['kappa']} levels: " + "; ".join(
                f"level {i + 1}: {lev['coarse_iterations']} iterations, {lev['coarse_seconds']:.2f} s"
                + (f" (coarsest {lev['coarsest']}, setup {lev['coarsest_setup_seconds'] or 0:.2f} s)"
                   if lev["coarsest"] else "") for i, lev in enumerate(r["levels"])))
    ok = all(r[k] <= args.tol for r in rows for k in r if k.endswith("_res") and k != "pyamg_res")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
