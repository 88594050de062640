"""Benchmark: the eigensolver against ARPACK, and what deflation buys, every figure from one run.

Peers (``peers``): the 64 lowest eigenpairs (``--n-ev``) of the even-odd normal operator Mhat^dag Mhat of
Wilson fermions at kappa 0.155 on ``lat.sample.l8888`` (8^4, beta 6.0, from the shared data), tol 1e-8,
Krylov space 96 (``--n-kr``) for both solvers:
  hpcmix  TRLM with Chebyshev acceleration (degree 8, a_min 1.0, a_max from a power iteration, which
          is timed) on the backend's fields (``--backend``, default numba where it imports);
  ARPACK  scipy.sparse.linalg.eigsh (which = "SA") on Mhat^dag Mhat applied as two scipy.sparse CSR
          products (Mhat = M_ee - M_eo M_oo^-1 M_oe from the CSR matrix of M that bench_dslash builds, checked
          against ``WilsonDirac.M``), its CSR build untimed. ARPACK's stopping rule is relative to each
          eigenvalue (|A v - lambda v| <= tol' |lambda|), hpcmix's to ||A||; ARPACK is given
          tol' = tol ||A|| / lambda_64 (||A|| and lambda_64 from the hpcmix run), which makes its bound the
          same for the 64th pair and tighter for the others;
  PRIMME  primme.eigsh on the same sparse operator (its rule is hpcmix's: tol ||A||), where it imports.
Every returned pair of every solver is checked here with the sparse operator in double:
||A v - lambda v|| / ||A|| (||A|| from scipy's own eigsh of the largest eigenvalue), and the eigenvalues
compared across solvers.

Deflation (``wilson``): on lat.sample.l8888, Wilson at kappa 0.155 and 0.157 (``--kappas``), even-odd:
the 64-mode eigensolve, then even-odd CG from a point source to a true residual of 1e-10, double and
double-half, without and with deflation (the low-mode guess and re-deflation at reliable updates; a
guess-only row shows what re-deflation adds): iterations, reliable updates, time, the eigensolve's
time and the break-even number of right-hand sides t_eig / (t_plain - t_deflated).
Staggered (``staggered``): asqtad on lat.sample.l8 (SciDAC, 8^4), mass 0.01, u0 0.502, antiperiodic in
time, the even-odd M^dag M, 64 modes (Chebyshev a_min 200), CG from MILC's source
``fermion/ksvector.src.sample.l8``: the same table.
The seed's point is the pair of rows "double-half deflated" against "double-single plain".

Usage: ``hpcmix bench eigen [--sections peers wilson staggered] [--threads 1] [--json PATH]``. Exit status 1 if a pair misses its bound or a solve its tolerance.
"""

import argparse
import importlib.util
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sparse
import scipy.sparse.linalg as sla
from mpi4py import MPI

from hpcmix.backends import DEFAULT_BACKEND, load_backend
from hpcmix.io.ildg import ILDGGaugeFormat
from hpcmix.io.milc import MILCGaugeFormat
from hpcmix.io.scidac_vector import read_vector
from hpcmix.lattice import Lattice
from hpcmix.operators.asqtad_links import asqtad_coefficients
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass
from hpcmix.registry import get_registry
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.cg import CG
from hpcmix.solvers.deflate import Deflated
from hpcmix.solvers.trlm import TRLM

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("HPCMIX_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
WILSON_GAUGE = DATA / "gauge" / "milc" / "lat.sample.l8888"
ASQTAD_GAUGE = DATA / "gauge" / "lime" / "lat.sample.l8"
ASQTAD_SOURCE = DATA / "fermion" / "ksvector.src.sample.l8"
TOL_SOLVE = 1e-10
#: Chebyshev window bottoms: above the 64th eigenvalue of each operator (0.76 Wilson, 129 asqtad).
A_MIN = {"wilson": 1.0, "staggered": 200.0}
DEGREE = 8


def sibling(name):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wilson(kappa, lattice):
    gauge = MILCGaugeFormat().read(WILSON_GAUGE, lattice)
    return WilsonDirac(gauge, kappa_to_mass(kappa))


def asqtad(lattice):
    gauge = ILDGGaugeFormat().read(ASQTAD_GAUGE, lattice)
    return StaggeredDirac(gauge, 0.01, (1, 1, 1, -1), asqtad_coefficients(0.502))


def normal_operator(fields):
    return fields.normal_operator(0) if hasattr(fields, "normal_operator") else fields.schur(0)[0].normal()


def trlm(fields, n_ev, n_kr, tol, a_min):
    """(EigenResult, seconds) of TRLM with Chebyshev acceleration on the even-odd normal operator."""
    t0 = time.perf_counter()
    res = TRLM(n_ev, n_kr, tol=tol, poly_degree=DEGREE, a_min=a_min, max_restarts=200).solve(normal_operator(fields))
    return res, time.perf_counter() - t0


# ---- peers -------------------------------------------------------------------------------------------
def sparse_normal(dirac):
    """Mhat^dag Mhat on even sites as a scipy LinearOperator of two CSR products (Wilson, one process)."""
    matrix = sibling("bench_dslash").wilson_csr(dirac)
    lat = dirac.lattice
    v = np.random.default_rng(1).standard_normal(lat.shape + (4, 3)) + 0j
    if np.abs(matrix @ v.ravel() - dirac.M(v).ravel()).max() > 1e-12 * np.abs(v).max() * 10:
        raise SystemExit("bench_eigen: the CSR matrix does not reproduce WilsonDirac.M")
    rows = (12 * np.flatnonzero(lat.parity.ravel() == 0)[:, None] + np.arange(12)).ravel()
    odd = (12 * np.flatnonzero(lat.parity.ravel() == 1)[:, None] + np.arange(12)).ravel()
    m_oo = matrix[odd][:, odd]
    if sparse.triu(m_oo, 1).nnz or sparse.tril(m_oo, -1).nnz:
        raise SystemExit("bench_eigen: the peers comparison needs a diagonal M_oo (Wilson, no clover)")
    mhat = (matrix[rows][:, rows] - matrix[rows][:, odd] @ sparse.diags(1.0 / m_oo.diagonal())
            @ matrix[odd][:, rows]).tocsr()
    mhat_dag = mhat.conj().T.tocsr()
    n = len(rows)
    return sla.LinearOperator((n, n), matvec=lambda x: mhat_dag @ (mhat @ x), dtype=np.complex128), mhat.nnz


def checked(op, lam, vectors, norm):
    """||A v - lambda v|| / ||A|| of each pair (columns of ``vectors``, normalized here)."""
    vectors = vectors / np.linalg.norm(vectors, axis=0)
    return np.array([np.linalg.norm(op.matvec(vectors[:, i]) - lam[i] * vectors[:, i]) / norm
                     for i in range(len(lam))])


def peers(args, backend):
    lattice = Lattice([8] * 4, comm=MPI.COMM_SELF)
    dirac = wilson(args.kappa, lattice)
    op, nnz = sparse_normal(dirac)
    norm = float(sla.eigsh(op, k=1, which="LA", tol=1e-6)[0][0])
    res, seconds = trlm(dirac.on_backend(backend), args.n_ev, args.n_kr, args.tol, A_MIN["wilson"])
    rows = [{"solver": f"hpcmix TRLM + Chebyshev {DEGREE} ({backend.name}, {threads()} threads)",
             "seconds": seconds, "matvecs": res.matvecs, "eigenvalues": res.eigenvalues,
             "own_residual_max": float(res.residuals.max())}]
    tol_arpack = args.tol * res.norm / res.eigenvalues[-1]
    t0 = time.perf_counter()
    counted = Counted(op)
    lam, vec = sla.eigsh(counted, k=args.n_ev, which="SA", tol=tol_arpack, ncv=args.n_kr)
    rows.append({"solver": f"ARPACK eigsh (tol' {tol_arpack:.1e}, scipy CSR, 1 thread)",
                 "seconds": time.perf_counter() - t0, "matvecs": counted.calls, "eigenvalues": lam,
                 "residuals": checked(op, lam, vec, norm)})
    try:
        import primme
    except ImportError:
        print("PRIMME: not installed (pip install primme, which builds against a system LAPACK)")
    else:
        counted = Counted(op)
        t0 = time.perf_counter()
        lam, vec = primme.eigsh(counted, k=args.n_ev, which="SA", tol=args.tol, ncv=args.n_kr)
        rows.append({"solver": "PRIMME eigsh (scipy CSR)", "seconds": time.perf_counter() - t0,
                     "matvecs": counted.calls, "eigenvalues": lam, "residuals": checked(op, lam, vec, norm)})
    reference = np.sort(rows[1]["eigenvalues"])
    print(f"\n## Peers: {args.n_ev} lowest modes of Mhat^dag Mhat, Wilson kappa {args.kappa}, l8888, tol {args.tol:g}, "
          f"n_kr {args.n_kr}\n\nsparse Mhat: {nnz} non-zeros; ||A|| = {norm:.4f}; lambda {reference[0]:.6e} .. "
          f"{reference[-1]:.6e}\n")
    print("| solver | seconds | matvecs | max residual / ||A|| | max |lambda - lambda_ARPACK| / ||A|| | speedup over ARPACK |")
    print("|---|---|---|---|---|---|")
    ok = True
    for row in rows:
        residuals = row.get("residuals", row.get("own_residual_max"))
        worst = float(np.max(residuals))
        diff = float(np.abs(np.sort(row["eigenvalues"]) - reference).max() / norm)
        ok &= worst <= args.tol and diff <= args.tol
        row.update(max_residual=worst, eigenvalue_difference=diff, speedup=rows[1]["seconds"] / row["seconds"])
        print(f"| {row['solver']} | {row['seconds']:.1f} | {row['matvecs']} | {worst:.1e} | {diff:.1e} | "
              f"{row['speedup']:.2f} |")
    print("\n(hpcmix's residuals are its own check with its own operator; the others' are checked here with the "
          "sparse one)")
    return ok, [{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in r.items()} for r in rows]


class Counted(sla.LinearOperator):
    """A LinearOperator that counts its applications."""

    def __init__(self, op):
        super().__init__(op.dtype, op.shape)
        self.op, self.calls = op, 0

    def _matvec(self, x):
        self.calls += 1
        return self.op.matvec(x)


# ---- deflation -------------------------------------------------------------------------------------
def deflation_table(title, dirac, b, fields, a_min, args):
    """Solve rows (plain / deflated, double / double-single / double-half) after one eigensolve."""
    eigen, t_eig = trlm(fields, args.n_ev, args.n_kr, args.tol, a_min)
    lat = dirac.lattice
    rows = []
    cases = [("double", False, True), ("double", True, True), ("double", True, False), ("single", False, True),
             ("half", False, True), ("half", True, True), ("half", True, False)]
    for sloppy, deflate, redeflate in cases:
        solver = CG(tol=TOL_SOLVE, sloppy=sloppy, maxiter=5000)
        if deflate:
            solver = Deflated(solver, eigen, redeflate=redeflate)
        bf = fields.import_field(b)
        t0 = time.perf_counter()
        res = EvenOdd(solver)(fields).solve(bf)
        seconds = time.perf_counter() - t0
        true_res = math.sqrt(lat.norm2(b - dirac.M(fields.export_field(res.x))) / lat.norm2(b))
        label = ("deflated" + ("" if redeflate else ", guess only")) if deflate else "plain"
        rows.append({"precision": f"double-{sloppy}" if sloppy != "double" else "double", "cg": label,
                     "iterations": res.iterations, "reliable_updates": res.reliable_updates, "seconds": seconds,
                     "true_residual": true_res})
    print(f"\n## {title}\n\neigensolve: {args.n_ev} modes, lambda {eigen.eigenvalues[0]:.4e} .. "
          f"{eigen.eigenvalues[-1]:.4e}, {eigen.matvecs} matvecs, {t_eig:.1f} s, converged {eigen.converged}\n")
    print("| CG | precision | iterations | reliable updates | seconds | true residual |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['cg']} | {r['precision']} | {r['iterations']} | {r['reliable_updates']} | {r['seconds']:.2f} | "
              f"{r['true_residual']:.1e} |")
    by = {(r["precision"], r["cg"]): r for r in rows}
    plain, deflated = by["double", "plain"], by["double", "deflated"]
    gain = plain["iterations"] / deflated["iterations"]
    saved = plain["seconds"] - deflated["seconds"]
    breakeven = math.ceil(t_eig / saved) if saved > 0 else None
    print(f"\ndouble CG: {gain:.2f}x fewer iterations; time per right-hand side {plain['seconds']:.2f} -> "
          f"{deflated['seconds']:.2f} s; the eigensolve pays for itself after {breakeven} right-hand sides")
    seed, single = by["double-half", "deflated"], by["double-single", "plain"]
    print(f"seed's point: double-half deflated {seed['iterations']} iterations / {seed['reliable_updates']} reliable "
          f"updates against double-single plain {single['iterations']} / {single['reliable_updates']}")
    ok = eigen.converged and all(r["true_residual"] <= TOL_SOLVE for r in rows)
    return ok, {"title": title, "eigensolve_seconds": t_eig, "eigen_matvecs": eigen.matvecs,
                "eigenvalues": eigen.eigenvalues.tolist(), "rows": rows, "iteration_gain": gain,
                "breakeven_rhs": breakeven}


def point_source(lattice, site_shape):
    b = lattice.zeros(site_shape)
    here = lattice.owns([0, 0, 0, 0])
    if here is not None:
        b[here + (0,) * len(site_shape)] = 1.0
    return b


def threads():
    import numba
    return numba.get_num_threads()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench_eigen", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sections", nargs="+", default=["peers", "wilson", "staggered"],
                    choices=["peers", "wilson", "staggered"])
    ap.add_argument("--kappa", type=float, default=0.155, help="kappa of the peers comparison")
    ap.add_argument("--kappas", type=float, nargs="+", default=[0.155, 0.157], help="kappas of the Wilson deflation")
    ap.add_argument("--n-ev", type=int, default=64, dest="n_ev")
    ap.add_argument("--n-kr", type=int, default=96, dest="n_kr")
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--backend", default=DEFAULT_BACKEND)
    ap.add_argument("--threads", type=int, default=1, help="numba threads (ARPACK's CSR products use one)")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    for path in (WILSON_GAUGE, ASQTAD_GAUGE, ASQTAD_SOURCE):
        if not path.is_file():
            print(f"bench_eigen: data not found: {path} (set HPCMIX_SHARED_DATA)", file=sys.stderr)
            return 2
    backend = load_backend(get_registry(), args.backend)
    if args.backend == "numba":
        import numba
        numba.set_num_threads(args.threads)
    print(f"# hpcmix eigensolver and deflation benchmark\n\n{platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, numpy {np.__version__}, backend {args.backend}, {MPI.COMM_WORLD.size} rank(s)")
    ok, figures = True, {"command": " ".join(["hpcmix bench eigen"] + (argv if argv is not None else sys.argv[1:]))}
    if "peers" in args.sections:
        good, figures["peers"] = peers(args, backend)
        ok &= good
    lattice = Lattice([8] * 4)
    for kappa in args.kappas if "wilson" in args.sections else ():
        dirac = wilson(kappa, lattice)
        good, figures[f"wilson_{kappa}"] = deflation_table(
            f"Deflation: Wilson kappa {kappa}, l8888, even-odd, point source", dirac, point_source(lattice, (4, 3)),
            dirac.on_backend(backend), A_MIN["wilson"], args)
        ok &= good
    if "staggered" in args.sections:
        dirac = asqtad(lattice)
        good, figures["staggered"] = deflation_table(
            "Deflation: asqtad mass 0.01, u0 0.502, l8, even-odd M^dag M, MILC's source", dirac,
            read_vector(ASQTAD_SOURCE, lattice), dirac.on_backend(backend), A_MIN["staggered"], args)
        ok &= good
    if args.json and MPI.COMM_WORLD.rank == 0:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
