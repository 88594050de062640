"""Benchmark: the Wilson(-clover) and asqtad stencils against measured memory bandwidth and scipy.sparse.

In one run, on a weak-field L^4 lattice (one process), measures: a STREAM-like copy and triad; the Wilson
dslash D_w (``WilsonDirac.hop``) and the clover operator M = A - D_w/2 in complex128, and on complex64
links and spinors where WilsonDirac computes in single precision (otherwise it says why not); the same
M as a scipy.sparse CSR matrix (checked against ``WilsonDirac.M`` to 1e-12 before it is timed); the
asqtad staggered dslash (u0 = 0.9). All kernels are timed round-robin, so each repetition sees the same
machine load, and every figure is the median over ``--repeat`` repetitions.

Counting conventions (per lattice site; "reals" are 8 bytes in double, 4 in single):
  flops   Wilson dslash 1320; clover M 1320 + 504 (clover) + 48 (the -1/2 scaling and the add);
          asqtad dslash 1146 (MILC). The CSR matrix is credited with M's 1872 (useful work, not the
          8 flops per stored complex non-zero it executes).
  bytes   Wilson dslash: reads 8 links x 18 + 8 neighbour spinors x 24, writes 24 = 360 reals;
          clover M: dslash + the clover term (two Hermitian 6x6 blocks, 72 reals) + psi(x) (24) = 456;
          asqtad dslash: 16 links x 18 + 16 neighbour colour vectors x 6 + 6 written = 390 reals;
          CSR A @ x: what it must stream (values, column indices, row pointers, x and y once each).
  STREAM  copy moves 2 x 8 bytes per element, triad 3 x 8 (as STREAM counts: no write-allocate).
The effective bandwidth of a kernel (counted bytes / time) over the STREAM copy bandwidth is its roofline
fraction. Usage: ``hpcmix bench dslash [--size 16] [--repeat 5] [--json PATH]``.
"""

import argparse
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import scipy
import scipy.sparse as sp
from mpi4py import MPI

from hpcmix.fields import GaugeField
from hpcmix.fields.su3 import dagger
from hpcmix.lattice import Lattice
from hpcmix.operators.asqtad_links import asqtad_coefficients
from hpcmix.operators.gamma import P_MINUS, P_PLUS
from hpcmix.operators.staggered import ASQTAD_FLOPS, StaggeredDirac
from hpcmix.operators.wilson import CLOVER_FLOPS, DSLASH_FLOPS, WilsonDirac

CLOVER_M_FLOPS = DSLASH_FLOPS + CLOVER_FLOPS + 48
DSLASH_REALS = 8 * 18 + 8 * 24 + 24
CLOVER_M_REALS = DSLASH_REALS + 72 + 24
ASQTAD_REALS = 16 * 18 + 16 * 6 + 6
STREAM_ARRAY_BYTES = 512 * 2 ** 20     # each STREAM array, far beyond any cache
TRIAD_BLOCK = 2 ** 15                  # elements per triad block: the temporary stays in L2
MIN_SECONDS = 0.02                     # a timed sample repeats a kernel until it lasts this long
MASS, CSW, U0, STAGGERED_MASS = 0.1, 1.0, 0.9, 0.05


@dataclass
class Kernel:
    """A timed kernel: ``run()`` does one application, worth ``flops`` and ``nbytes`` (counted as in
    the module doc; flops 0 where no flop count applies)."""

    name: str
    precision: str
    run: object
    flops: float
    nbytes: float
    times: list = field(default_factory=list)
    calls: int = 1

    @property
    def seconds(self):
        return statistics.median(self.times)


def stream_kernels(nbytes):
    """STREAM copy (b = a) and triad (a = b + s c) on float64 arrays of ``nbytes`` each. numpy's
    expression b + s*c would make two passes, so the triad runs blockwise through an L2-sized
    temporary: each array then crosses the memory bus once, as in STREAM."""
    n = nbytes // 8
    a, b, c = np.full(n, 1.0), np.full(n, 2.0), np.full(n, 0.5)
    tmp = np.empty(TRIAD_BLOCK)

    def triad():
        for i in range(0, n, TRIAD_BLOCK):
            j = min(i + TRIAD_BLOCK, n)
            np.multiply(c[i:j], 3.0, out=tmp[:j - i])
            np.add(b[i:j], tmp[:j - i], out=a[i:j])

    return [Kernel("STREAM copy", "float64", lambda: np.copyto(b, a), 0, 2 * 8 * n),
            Kernel("STREAM triad", "float64", triad, 0, 3 * 8 * n)]


#: Spin columns t of the chiral blocks in each spin row s: A commutes with gamma5 = diag(1, 1, -1, -1).
CHIRAL_COLUMNS = np.array([[0, 1], [0, 1], [2, 3], [2, 3]])


def _block_rows(nbr, spin_columns, values):
    """Per-site 12x12 blocks (index 3 spin + colour) laid out row by row: ``values[x, s, k, a, b]`` is the
    entry of row 12 x + 3 s + a at column 12 nbr[x] + 3 spin_columns[s, k] + b. Returns (columns,
    values), each shaped (rows, entries per row)."""
    cols = 12 * nbr[:, None, None, None, None] + 3 * spin_columns[None, :, :, None, None] + np.arange(3)
    cols = np.broadcast_to(cols, values.shape)
    rows = 12 * len(nbr)
    return (cols.transpose(0, 1, 3, 2, 4).reshape(rows, -1),
            values.transpose(0, 1, 3, 2, 4).reshape(rows, -1))


def _projector_block(spin, colour):
    """``spin`` (x) ``colour[x]`` for a 4x4 spin matrix with the same number of non-zeros in every row
    (2 for 1 -+ g_mu): (spin columns [s, k], values [x, s, k, a, b])."""
    s, t = np.nonzero(spin)
    t = t.reshape(4, -1)
    return t, spin[s.reshape(4, -1), t][None, :, :, None, None] * colour[:, None, None]


def wilson_csr(dirac):
    """M = A - D_w/2 of ``dirac`` as a CSR matrix acting on ``psi.ravel()`` (index 12 site + 3 spin +
    colour, sites lexicographic in [t, z, y, x]), built row by row from the operator's phased links:
    A(x) on the diagonal, -1/2 (1 - g_mu) (x) U_mu(x) to x+mu and -1/2 (1 + g_mu) (x) U_mu(x-mu)^dag
    to x-mu. Only the spin structure is stored (2 non-zeros per row of each projector, the chiral
    blocks of A; explicit zeros dropped): 54 complex non-zeros per row with a clover term, 648 per
    site. Single-process lattices only."""
    lat = dirac.lattice
    volume = lat.volume
    site = np.arange(volume).reshape(lat.shape)
    a = dirac.clover if dirac.clover is not None else np.broadcast_to(dirac.diagonal * np.eye(12), (volume, 12, 12))
    a = a.reshape(volume, 4, 3, 4, 3).transpose(0, 1, 3, 2, 4)           # [x, s, t, a, b]
    blocks = [_block_rows(site.ravel(), CHIRAL_COLUMNS, a[:, np.arange(4)[:, None], CHIRAL_COLUMNS])]
    for mu in range(4):
        u = dirac.links[mu].reshape(volume, 3, 3)
        u_back = dagger(lat.shift(dirac.links[mu], mu, -1)).reshape(volume, 3, 3)
        for spin, step, colour in ((P_MINUS[mu], 1, u), (P_PLUS[mu], -1, u_back)):
            columns, values = _projector_block(-0.5 * spin, colour)
            blocks.append(_block_rows(lat.shift(site, mu, step).ravel(), columns, values))
    cols, data = (np.concatenate(part, axis=1) for part in zip(*blocks))
    n, per_row = cols.shape
    index = np.int32 if n * per_row < 2 ** 31 else np.int64                 # as scipy's own constructors
    indptr = np.arange(0, n * per_row + 1, per_row, dtype=index)
    matrix = sp.csr_array((data.ravel(), cols.ravel().astype(index), indptr), shape=(n, n))
    matrix.sort_indices()
    matrix.eliminate_zeros()
    return matrix


def csr_bytes(matrix):
    """Bytes A @ x must stream: values, column indices and row pointers, x read and y written once."""
    return (matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
            + 2 * matrix.shape[0] * matrix.dtype.itemsize)


def random_field(lattice, inner, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = lattice.shape + inner
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def wilson_kernels(dirac, dtype):
    """D_w and clover M of ``dirac`` on a random spinor of ``dtype`` (bytes per real: half its size)."""
    lat = dirac.lattice
    psi = random_field(lat, (4, 3), dtype, seed=1)
    real, precision = np.dtype(dtype).itemsize // 2, np.dtype(dtype).name
    return [Kernel("Wilson dslash D_w", precision, lambda: dirac.hop(psi), DSLASH_FLOPS * lat.volume,
                   DSLASH_REALS * real * lat.volume),
            Kernel("clover M", precision, lambda: dirac.M(psi), CLOVER_M_FLOPS * lat.volume,
                   CLOVER_M_REALS * real * lat.volume)]


def single_precision(gauge):
    """(WilsonDirac on complex64 copies of the links, "") where it computes in single precision (D_w
    and M of a complex64 spinor stay complex64), else (None, why not)."""
    dirac = WilsonDirac(GaugeField(gauge.lattice, gauge.U.astype(np.complex64)), MASS, csw=CSW)
    psi = random_field(gauge.lattice, (4, 3), np.complex64, seed=1)
    promoted = [f"{name} of a complex64 spinor is {out.dtype}"
                for name, out in (("D_w", dirac.hop(psi)), ("M", dirac.M(psi))) if out.dtype != np.complex64]
    if promoted:
        return None, "WilsonDirac on complex64 links does not compute in single precision: " + ", ".join(promoted)
    return dirac, ""


def csr_kernel(dirac):
    """The CSR matrix of ``dirac`` (complex128), verified against ``dirac.M`` before it is timed."""
    lat = dirac.lattice
    t0 = time.perf_counter()
    matrix = wilson_csr(dirac)
    built = time.perf_counter() - t0
    x = random_field(lat, (4, 3), np.complex128, seed=2)
    want = dirac.M(x).ravel()
    error = np.linalg.norm(matrix @ x.ravel() - want) / np.linalg.norm(want)
    x = x.ravel()
    kernel = Kernel("scipy CSR A @ x", "complex128", lambda: matrix @ x, CLOVER_M_FLOPS * lat.volume,
                    csr_bytes(matrix))
    return kernel, matrix, error, built


def staggered_kernel(gauge):
    """The asqtad hopping term D (MILC's 1146 flops per site), complex128."""
    lat = gauge.lattice
    stag = StaggeredDirac(gauge, STAGGERED_MASS, coefficients=asqtad_coefficients(U0))
    chi = random_field(lat, (3,), np.complex128, seed=3)
    return Kernel("asqtad dslash D", "complex128", lambda: stag.hop(chi), ASQTAD_FLOPS * lat.volume,
                  ASQTAD_REALS * 8 * lat.volume)


def measure(kernels, repeat):
    """Time every kernel ``repeat`` times, round-robin. A warm-up call fixes each kernel's number of
    calls per sample (enough to last MIN_SECONDS); times are per call."""
    for k in kernels:
        t0 = time.perf_counter()
        k.run()
        k.calls = max(1, math.ceil(MIN_SECONDS / max(time.perf_counter() - t0, 1e-9)))
    for _ in range(repeat):
        for k in kernels:
            t0 = time.perf_counter()
            for _ in range(k.calls):
                k.run()
            k.times.append((time.perf_counter() - t0) / k.calls)


def rows(kernels, copy, csr):
    """One record per kernel: time, GFLOP/s, effective GB/s, fraction of the STREAM copy bandwidth
    and (for the clover M) its time over the CSR matrix's."""
    out = []
    for k in kernels:
        gbs = k.nbytes / k.seconds / 1e9
        out.append({"kernel": k.name, "precision": k.precision,
                    "ms": 1e3 * k.seconds, "gflops": k.flops / k.seconds / 1e9 if k.flops else None,
                    "gbs": gbs, "stream_fraction": gbs / (copy.nbytes / copy.seconds / 1e9),
                    "vs_csr": k.seconds / csr.seconds if k.name == "clover M" else None,
                    "samples": len(k.times), "calls_per_sample": k.calls})
    return out


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def header(command, size):
    print(f"# hpcmix dslash benchmark\n\n`{command}`\n\n{platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; numpy {np.__version__}, scipy {scipy.__version__}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}; "
          f"lattice {size}^4, weak field, m = {MASS}, c_sw = {CSW}, asqtad u0 = {U0}\n")


def table(records, repeat):
    print(f"Median of {repeat} round-robin repetitions; bytes and flops counted as in the module doc; "
          "\"of STREAM\" is effective bandwidth / STREAM copy bandwidth.\n")
    print("| kernel | precision | ms / call | GFLOP/s | effective GB/s | of STREAM | M / CSR time |")
    print("|---|---|---|---|---|---|---|")
    for r in records:
        print(f"| {r['kernel']} | {r['precision']} | {r['ms']:.3f} | {fmt(r['gflops'], '.3f')} | {r['gbs']:.2f} | "
              f"{r['stream_fraction']:.3f} | {fmt(r['vs_csr'], '.2f')} |")
    print()


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="hpcmix bench dslash", description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=16, help="L of the L^4 lattice")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions per kernel (the median is reported)")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    command = " ".join(["hpcmix bench dslash", shlex.join(argv)]).strip()
    header(command, args.size)

    t0 = time.perf_counter()
    lattice = Lattice([args.size] * 4, comm=MPI.COMM_SELF)
    gauge = GaugeField.weak(lattice, seed=11)
    dirac = WilsonDirac(gauge, MASS, csw=CSW)
    single, why_not = single_precision(gauge)
    csr, matrix, error, built = csr_kernel(dirac)
    kernels = (stream_kernels(STREAM_ARRAY_BYTES) + wilson_kernels(dirac, np.complex128)
               + (wilson_kernels(single, np.complex64) if single is not None else [])
               + [csr, staggered_kernel(gauge)])
    print(f"Setup {time.perf_counter() - t0:.1f} s (CSR build {built:.1f} s, {matrix.nnz / lattice.volume:.0f} "
          f"non-zeros per site); |A x - M x| / |M x| = {error:.2e}\n")
    if not error <= 1e-12:
        print("FAILED: the CSR matrix does not reproduce WilsonDirac.M to 1e-12")
        return 1
    measure(kernels, args.repeat)
    records = rows(kernels, kernels[0], csr)
    table(records, args.repeat)
    if why_not:
        print(f"Single precision not measured: {why_not}.\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": command, "size": args.size, "repeat": args.repeat, "csr_error": error,
                       "csr_nnz": matrix.nnz, "single_precision": why_not or "measured", "kernels": records},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
