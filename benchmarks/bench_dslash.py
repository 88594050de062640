"""Benchmark: the Wilson(-clover) stencils of every backend against measured memory bandwidth and scipy.sparse.

In one run, on a weak-field L^4 lattice (one process), measures: a STREAM-like copy (numpy's, and a
multithreaded numba copy where numba imports: the roofline the multithreaded kernels are held to) and
triad; then for each backend (``--backends``, default numpy and numba) and each precision (``--precisions``)
with every link compression it stores (18, 12, 8), on half-lattice fields in the even-odd row layout:
the Wilson hop D_eo and the clover dslash A_oo^-1 D_oe (the hop, then the clover site term); the
Wilson-clover M as a scipy.sparse CSR matrix (checked against ``WilsonDirac.M`` to 1e-12 before it is
timed); and the asqtad staggered hop D_eo (u0 = 0.9, links reconstruct 18) in each precision.
All kernels are timed round-robin, so each repetition sees the same machine load, and every figure is
the median over ``--repeat`` repetitions; compile time (numba's first calls) is reported apart.
A backend whose fields live in GPU memory (cupy on a GPU) is timed to the end of its queued work and held
to the copy bandwidth of its own memory, measured the same way (a device-to-device copy); its launch
configurations are tuned on first use (the tune cache), and the run says how many it tuned (none on a
second run). ``--no-csr`` leaves out the CSR matrix (its build is slow and its memory large at 32^4).

Counting conventions (per site; no cache reuse counted):
  flops   Wilson hop 1320; clover dslash 1320 + 504; CSR credited with M's 1872 (useful work);
          asqtad dslash 1146 (MILC).
  bytes   Wilson hop: 8 x (neighbour spinor + link) + the output spinor; a spinor 24 reals (+ a 4-byte
          norm in fixed point), a link 18/12/8 reals (single reconstruct 18: 1440 bytes, half
          reconstruct 12: 660); clover dslash: the hop + the intermediate spinor read and the output
          written + the clover blocks as stored (two 6x6 complex blocks, 144 reals of the precision's
          compute type); asqtad: 16 x (link + colour vector) + the output vector, a colour vector 6 reals
          (+ a 4-byte norm in fixed point), a link 18 reals (single: 1560 bytes, half: 848);
          CSR A @ x: what it must stream (values, column indices, row pointers, x and y once each).
  STREAM  copy moves 2 x 8 bytes per element, triad 3 x 8 (as STREAM counts: no write-allocate).
The effective bandwidth of a kernel (counted bytes / time) over the STREAM copy bandwidth is its roofline
fraction. Usage: ``hpcmix bench dslash [--size 16] [--repeat 5] [--backends numpy,numba] [--json PATH]``.
"""

import argparse
import importlib.util
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

from hpcmix.backends import load_backend
from hpcmix.fields import GaugeField
from hpcmix.fields.su3 import dagger
from hpcmix.lattice import Lattice
from hpcmix.operators.asqtad_links import asqtad_coefficients
from hpcmix.operators.gamma import P_MINUS, P_PLUS
from hpcmix.operators.staggered import ASQTAD_FLOPS, StaggeredDirac
from hpcmix.operators.wilson import CLOVER_FLOPS, DSLASH_FLOPS, WilsonDirac
from hpcmix.precision import resolve
from hpcmix.registry import get_registry

CLOVER_M_FLOPS = DSLASH_FLOPS + CLOVER_FLOPS + 48
STREAM_ARRAY_BYTES = 512 * 2 ** 20     # each STREAM array, far beyond any cache
TRIAD_BLOCK = 2 ** 15                  # elements per triad block: the temporary stays in L2
MIN_SECONDS = 0.02                     # a timed sample repeats a kernel until it lasts this long
MASS, CSW, U0, STAGGERED_MASS = 0.1, 1.0, 0.9, 0.05
DEFAULT_BACKENDS = ["numpy"] + (["numba"] if importlib.util.find_spec("numba") is not None else [])


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
    tags: dict = field(default_factory=dict)   # backend, operator, precision, reconstruct, sites
    sync: object = lambda: None                # waits for the work run() queued (a GPU's kernels)

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

    kernels = [Kernel("STREAM copy", "float64", lambda: np.copyto(b, a), 0, 2 * 8 * n, tags={"backend": "numpy"}),
               Kernel("STREAM triad", "float64", triad, 0, 3 * 8 * n, tags={"backend": "numpy"})]
    if numba_available():
        copy = parallel_copy()
        kernels.append(Kernel("STREAM copy", "float64", lambda: copy(a, b), 0, 2 * 8 * n, tags={"backend": "numba"}))
    return kernels


def device_copy(backend, nbytes):
    """The STREAM copy in ``backend``'s device memory (where its fields live on a GPU), else None."""
    if getattr(backend, "gpu", None) is None:
        return None
    xp, n = backend.xp, nbytes // 8
    a = xp.full(n, 1.0)
    b = xp.empty_like(a)
    return Kernel("STREAM copy", "float64", lambda: xp.copyto(b, a), 0, 2 * 8 * n, tags={"backend": backend.name},
                  sync=backend.synchronize)


def numba_available():
    return importlib.util.find_spec("numba") is not None


def parallel_copy():
    """b = a on all of numba's threads (the copy bandwidth the multithreaded kernels can reach)."""
    import numba

    @numba.njit(parallel=True, cache=False)
    def copy(a, b):
        for i in numba.prange(a.size):
            b[i] = a[i]

    return copy


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


def spinor_bytes(precision):
    """Bytes of one stored spinor: 24 reals (+ a 4-byte norm in fixed point)."""
    return 24 * precision.bytes_per_real + (4 if precision.has_norm else 0)


def field_kernels(dirac, backend, precision, reconstruct):
    """The Wilson hop D_eo and the clover dslash A_oo^-1 D_oe (hop, then the site term) of ``dirac`` on
    ``backend``'s half-lattice fields in ``precision`` with links compressed to ``reconstruct``, per
    half-lattice site (module doc for the counts)."""
    f = dirac.on_backend(backend).at(precision, reconstruct)
    x = f.stored(f.import_field(random_field(dirac.lattice, (4, 3), np.complex128, seed=1))[1])
    out = f.new(0)
    clover_out = f.new(0)
    sites = f.layout.half_volume
    spinor = spinor_bytes(precision)
    hop_bytes = 8 * (spinor + reconstruct * precision.bytes_per_real) + spinor
    clover_bytes = hop_bytes + 2 * spinor + 144 * precision.real_dtype.itemsize
    tags = {"backend": backend.name, "precision": precision.name, "reconstruct": reconstruct, "sites": sites}
    return [Kernel("Wilson dslash D_w", precision.name, lambda: f.hop(x, out), DSLASH_FLOPS * sites,
                   hop_bytes * sites, tags=dict(tags, operator="wilson"), sync=backend.synchronize),
            Kernel("clover dslash A^-1 D_w", precision.name, lambda: f.site(f.hop(x, out), True, out=clover_out),
                   (DSLASH_FLOPS + CLOVER_FLOPS) * sites, clover_bytes * sites, tags=dict(tags, operator="wilson_clover"),
                   sync=backend.synchronize)]


def threads(backend_name):
    if backend_name == "numba":
        import numba
        return numba.get_num_threads()
    return 1


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
    kernel = Kernel("scipy CSR A @ x", "double", lambda: matrix @ x, CLOVER_M_FLOPS * lat.volume, csr_bytes(matrix),
                    tags={"backend": "scipy", "operator": "wilson_clover", "precision": "double", "reconstruct": 18,
                          "sites": lat.volume})
    return kernel, matrix, error, built


def asqtad_kernel(stag, backend, precision):
    """The asqtad hopping term D_eo (MILC's 1146 flops per site) of ``stag`` on ``backend``'s half-lattice
    fields in ``precision`` (links reconstruct 18), per half-lattice site (module doc for the counts)."""
    f = stag.on_backend(backend).at(precision)
    x = f.stored(f.import_field(random_field(stag.lattice, (3,), np.complex128, seed=3))[1])
    out = f.new(0)
    sites = f.layout.half_volume
    vector = 6 * precision.bytes_per_real + (4 if precision.has_norm else 0)
    nbytes = 16 * (vector + 18 * precision.bytes_per_real) + vector
    return Kernel("asqtad dslash D", precision.name, lambda: f.hop(x, out), ASQTAD_FLOPS * sites, nbytes * sites,
                  tags={"backend": backend.name, "operator": "asqtad", "precision": precision.name,
                        "reconstruct": 18, "sites": sites}, sync=backend.synchronize)


def measure(kernels, repeat):
    """Time every kernel ``repeat`` times, round-robin. A warm-up call (which also compiles) fixes each
    kernel's number of calls per sample (enough to last MIN_SECONDS); times are per call."""
    for k in kernels:
        k.run()
        k.sync()
        t0 = time.perf_counter()
        k.run()
        k.sync()
        k.calls = max(1, math.ceil(MIN_SECONDS / max(time.perf_counter() - t0, 1e-9)))
    for _ in range(repeat):
        for k in kernels:
            t0 = time.perf_counter()
            for _ in range(k.calls):
                k.run()
            k.sync()
            k.times.append((time.perf_counter() - t0) / k.calls)


def stream_copy(kernels, device_backends=()):
    """The STREAM copy bandwidth (GB/s) of host memory (the multithreaded copy where numba runs, else numpy's)
    and of each device backend's memory: {backend name or "host": GB/s}."""
    gbs = {"host": max(k.nbytes / k.seconds / 1e9 for k in kernels
                       if k.name == "STREAM copy" and k.tags["backend"] not in device_backends)}
    gbs.update({k.tags["backend"]: k.nbytes / k.seconds / 1e9 for k in kernels
                if k.name == "STREAM copy" and k.tags["backend"] in device_backends})
    return gbs


def rows(kernels, copy_gbs):
    """One record per stencil kernel: sites per second, GFLOP/s, bytes per site, effective GB/s, the
    fraction of the STREAM copy bandwidth of the memory its fields live in (``copy_gbs``: host, or the
    backend's device) and the threads it ran on."""
    out = []
    for k in kernels:
        if not k.flops:
            continue
        t = k.tags
        gbs = k.nbytes / k.seconds / 1e9
        out.append({"kernel": k.name, "backend": t["backend"], "operator": t["operator"], "precision": t["precision"],
                    "reconstruct": t["reconstruct"], "sites_per_second": t["sites"] / k.seconds,
                    "gflops": k.flops / k.seconds / 1e9, "bytes_per_site": k.nbytes / t["sites"],
                    "gbytes_per_second": gbs, "threads": threads(t["backend"]),
                    "stream_fraction": gbs / copy_gbs.get(t["backend"], copy_gbs["host"]),
                    "ms": 1e3 * k.seconds, "samples": len(k.times), "calls_per_sample": k.calls})
    return out


def header(command, size):
    print(f"# hpcmix dslash benchmark\n\n`{command}`\n\n{platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; numpy {np.__version__}, scipy {scipy.__version__}; "
          f"NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', '(unset)')}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}; "
          f"lattice {size}^4, weak field, m = {MASS}, c_sw = {CSW}, asqtad u0 = {U0}\n")


def table(records, repeat, kernels):
    print(f"Median of {repeat} round-robin repetitions. STREAM copy: "
          + ", ".join(f"{k.tags['backend']} {k.nbytes / k.seconds / 1e9:.1f} GB/s" for k in kernels
                      if k.name == "STREAM copy")
          + "; \"of STREAM\" is effective bandwidth / the larger host copy (a GPU backend's: its device copy). Fields: half-lattice sites (even-odd rows); "
          "CSR: the whole lattice.\n")
    print("| backend | operator | precision | reconstruct | Msites/s | GFLOP/s | bytes/site | GB/s | of STREAM | threads |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in records:
        print(f"| {r['backend']} | {r['operator']} | {r['precision']} | {r['reconstruct']} | "
              f"{r['sites_per_second'] / 1e6:.2f} | {r['gflops']:.2f} | {r['bytes_per_site']:.0f} | "
              f"{r['gbytes_per_second']:.2f} | {r['stream_fraction']:.3f} | {r['threads']} |")
    print()


def field_cases(precisions):
    """(precision, reconstruct) pairs: every precision with every compression it stores."""
    return [(p, r) for p in precisions for r in (18, 12, 8) if r in p.reconstructs]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="hpcmix bench dslash", description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=16, help="L of the L^4 lattice")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions per kernel (the median is reported)")
    ap.add_argument("--backends", default=",".join(DEFAULT_BACKENDS), help="comma-separated backends to measure")
    ap.add_argument("--precisions", default="double,single,half,quarter", help="comma-separated precisions")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    ap.add_argument("--no-csr", action="store_false", dest="csr", help="leave out the scipy CSR matrix")
    args = ap.parse_args(argv)
    command = " ".join(["hpcmix bench dslash", shlex.join(argv)]).strip()
    header(command, args.size)

    t0 = time.perf_counter()
    registry = get_registry()
    backends = [load_backend(registry, name) for name in args.backends.split(",")]
    precisions = [resolve(registry, name) for name in args.precisions.split(",")]
    lattice = Lattice([args.size] * 4, comm=MPI.COMM_SELF)
    gauge = GaugeField.weak(lattice, seed=11)
    dirac = WilsonDirac(gauge, MASS, csw=CSW)
    kernels = stream_kernels(STREAM_ARRAY_BYTES)
    devices = {b.name: device_copy(b, STREAM_ARRAY_BYTES) for b in backends}
    kernels += [k for k in devices.values() if k is not None]
    stag = StaggeredDirac(gauge, STAGGERED_MASS, coefficients=asqtad_coefficients(U0))
    for backend in backends:
        for precision, reconstruct in field_cases(precisions):
            kernels += field_kernels(dirac, backend, precision, reconstruct)
        kernels += [asqtad_kernel(stag, backend, precision) for precision in precisions]
    csr_figures = {}
    if args.csr:
        csr, matrix, error, built = csr_kernel(dirac)
        kernels.append(csr)
        csr_figures = {"csr_error": error, "csr_nnz": matrix.nnz}
        print(f"CSR build {built:.1f} s, {matrix.nnz / lattice.volume:.0f} non-zeros per site; "
              f"|A x - M x| / |M x| = {error:.2e}")
        if not error <= 1e-12:
            print("FAILED: the CSR matrix does not reproduce WilsonDirac.M to 1e-12")
            return 1
    print(f"Setup {time.perf_counter() - t0:.1f} s\n")
    measure(kernels, args.repeat)
    copy_gbs = stream_copy(kernels, [name for name, k in devices.items() if k is not None])
    records = rows(kernels, copy_gbs)
    table(records, args.repeat, kernels)
    compile_seconds = {b.name: getattr(b, "compile_seconds", 0.0) for b in backends}
    print("Compile time (first calls, apart from the figures): "
          + ", ".join(f"{k} {v:.1f} s" for k, v in compile_seconds.items()) + "\n")
    tuned = {b.name: len(b.tune.tuned) for b in backends if hasattr(b, "tune")}
    for b in backends:
        if hasattr(b, "tune"):
            print(f"{b.name}: {tuned[b.name]} launch configuration(s) tuned in this run (tune cache {b.tune.path})\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": command, "size": args.size, "repeat": args.repeat, **csr_figures,
                       "stream_copy_gbytes_per_second": copy_gbs["host"],
                       "device_copy_gbytes_per_second": {k: v for k, v in copy_gbs.items() if k != "host"},
                       "compile_seconds": compile_seconds, "tuned_launches": tuned, "kernels": records}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
