"""Benchmark companion: the low spectrum of the Wilson(-clover) operator over the multigrid benchmark's kappa ladders.

What a solver faces at each kappa of ``hpcmix bench multigrid``'s ladders on ``lat.sample.l8888`` (8^4, quenched,
Wilson gauge action at beta 6.0; untiled: tiling repeats the box and adds no new low modes of the 8^4 operator
at zero momentum), from ARPACK on the canonical numpy operator M = A - D_w / 2 (DESIGN.md's normalization,
M = (1 / 2 kappa) - D_w / 2 for Wilson):

- the eigenvalue of M with the smallest real part (``eigs``, which = "SR"): where it reaches zero the ladder is at
  this configuration's critical point, and M's spectrum surrounds the origin beyond it;
- the smallest singular value sigma_min (the square root of the smallest eigenvalue of the Hermitian
  M^dag M = (gamma5 M)^2, ``eigsh``): what sets CG's condition number, (sigma_max / sigma_min)^2;
- the critical kappa that eigenvalue gives. The mass enters M as (4 + m) = 1 / (2 kappa) times the identity, with
  or without clover (whose term does not depend on kappa), so M's eigenvectors do not depend on kappa and its
  eigenvalues move by the change of 1 / (2 kappa): one Arnoldi run per action gives the lowest eigenvalue at every
  kappa, and its real part vanishes at kappa_c = 1 / (2 (1 / (2 kappa) - Re(lambda))).

Usage: ``hpcmix bench spectrum [--kappas ...] [--clover-kappas ...]``: ARPACK on the numpy operator, tens of minutes
on 2 cores (25 min beside another job, 2026-12-02).
"""

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import scipy.sparse.linalg as sla

from hpcmix.operators.gamma import apply_gamma5
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass


def multigrid_bench():
    spec = importlib.util.spec_from_file_location("bench_multigrid", Path(__file__).with_name("bench_multigrid.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _operator(dirac, apply):
    shape = dirac.lattice.shape + (4, 3)
    n = int(np.prod(shape))
    return sla.LinearOperator((n, n), matvec=lambda v: apply(v.reshape(shape)).ravel(), dtype=complex)


def lowest_eigenvalue(dirac, tol=1e-6):
    """The eigenvalue of M with the smallest real part (ARPACK, which = "SR")."""
    values = sla.eigs(_operator(dirac, dirac.M), k=4, which="SR", tol=tol, return_eigenvectors=False)
    return complex(values[np.argmin(values.real)])


def sigma_min(dirac, tol=1e-6):
    """The smallest singular value of M: the root of the smallest eigenvalue of M^dag M = (gamma5 M)^2."""
    h = lambda psi: apply_gamma5(dirac.M(psi))
    values = sla.eigsh(_operator(dirac, lambda psi: h(h(psi))), k=2, which="SA", tol=tol, return_eigenvectors=False)
    return float(np.sqrt(max(min(values), 0.0)))


def main(argv=None):
    bench = multigrid_bench()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gauge", type=Path, default=bench.GAUGE, help="the 8^4 MILC configuration")
    ap.add_argument("--kappas", type=float, nargs="*", default=[0.13, 0.15, 0.155, 0.157], help="Wilson ladder")
    ap.add_argument("--clover-kappas", type=float, nargs="*", default=[0.12, 0.13, 0.14, 0.145], dest="clover_kappas",
                    help="Wilson-clover ladder (c_sw = --csw)")
    ap.add_argument("--csw", type=float, default=1.0)
    args = ap.parse_args(argv)
    if not args.gauge.is_file():
        print(f"bench_spectrum: configuration not found ({args.gauge}; set HPCMIX_SHARED_DATA or --gauge)")
        return 1
    gauge = bench.load_gauge(args.gauge, 8)
    print(f"# low spectrum of M on {args.gauge.name} (8^4)\n")
    print("| c_sw | kappa | lowest Re(lambda) eigenvalue of M | sigma_min(M) | kappa_c from it |")
    print("|---:|---:|---:|---:|---:|")
    for csw, kappas in ((0.0, args.kappas), (args.csw, args.clover_kappas)):
        lowest = None
        for kappa in kappas:
            dirac = WilsonDirac(gauge, kappa_to_mass(kappa), csw=csw, clover=csw != 0)
            if lowest is None:
                lowest, diagonal = lowest_eigenvalue(dirac), dirac.diagonal
            lam = lowest + (dirac.diagonal - diagonal)                     # the same eigenvector, shifted
            critical = 1.0 / (2.0 * (dirac.diagonal - lam.real))
            print(f"| {csw} | {kappa} | {lam.real:+.4f} {lam.imag:+.4f}i | {sigma_min(dirac):.4f} | {critical:.5f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
