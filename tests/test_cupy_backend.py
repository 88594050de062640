"""The ``cupy`` backend's CUDA kernels against the numpy reference, without a GPU.

numba-cuda's simulator must be chosen before numba.cuda is first imported, and this test process has
imported it already (conftest asks every backend whether it loads), so
``test_kernels_under_the_simulator`` reruns this file in a subprocess with ``NUMBA_ENABLE_CUDASIM=1``,
where the tests marked ``gpu`` run on 4^4 lattices (on a machine with a GPU, ``pytest -m gpu`` runs them
there, without the simulator). Here they skip, as does everything where numba-cuda is not installed.
"""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from cli_helpers import GOOD_BODY, write_deck
from hpcmix.backends.cuda import device, sources
from hpcmix.backends.cupy_backend import CupyBackend
from hpcmix.backends.kernels import site, staggered, wilson
from hpcmix.backends.numpy_backend import NumpyBackend
from hpcmix.fields.field import Field
from hpcmix.fields.gauge import GaugeField
from hpcmix.fields.halo import Halo
from hpcmix.fields.layout import EvenOddLayout
from hpcmix.fields.links import RowLinks
from hpcmix.lattice import Lattice
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import DOUBLE, HALF, QUARTER, SINGLE
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.cg import CG
from mpi_helpers import run_mpi

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
ON_DEVICE, WHY = CupyBackend.available()
#: (precision, reconstruct, tolerance relative to max |D psi|): the output's storage rounding
HOPS = [(DOUBLE, 18, 1e-14), (DOUBLE, 8, 1e-13), (SINGLE, 12, 1e-6), (HALF, 12, 1e-4), (QUARTER, 18, 3e-2)]
#: a combination agrees with the reference to its output's rounding, relative to max |out| (bitwise in the
#: simulator, whose arithmetic is the reference's; a GPU may contract a * b + c into one rounding)
ROUNDING = {"double": 4e-16, "single": 2e-7, "half": 1 / 32767}


def on_device(test):
    """A test of the backend's kernels on its device: a GPU, or the simulator (``gpu``-marked)."""
    why = f"{WHY}: runs in test_kernels_under_the_simulator's subprocess"
    return pytest.mark.gpu(pytest.mark.skipif(not ON_DEVICE, reason=why)(test))


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
@pytest.mark.skipif(SIMULATED, reason="this is the simulator's run")
def test_kernels_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-rs", "-m", "gpu", "-p", "no:cacheprovider"],
                         cwd=os.path.dirname(__file__), env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    skipped = [s for s in run.stdout.splitlines() if s.startswith("SKIPPED")]
    assert all("needs a CUDA GPU" in s for s in skipped), run.stdout[-3000:]


@pytest.fixture(scope="module")
def run_without_device(tmp_path_factory):
    """A deck with ``backend = "cupy"`` run on 2 ranks without the simulator."""
    if SIMULATED or ON_DEVICE:
        pytest.skip("needs a process without the simulator, on a machine without a GPU")
    folder = tmp_path_factory.mktemp("cupy")
    deck = write_deck(folder / "cupy.toml", 'backend = "cupy"\n' + GOOD_BODY)
    return run_mpi(2, [sys.executable, "-m", "hpcmix", "run", str(deck)], cwd=folder, timeout=120,
                   env={"NUMBA_ENABLE_CUDASIM": None})


def test_without_gpu_or_simulator_one_clear_error(run_without_device):
    assert run_without_device.returncode != 0
    lines = [s for s in run_without_device.stderr.splitlines() if "error" in s]
    assert len(lines) == 1 and f"backend 'cupy' is not available: {WHY}" in lines[0], run_without_device.stderr
    assert any(reason in WHY for reason in ("numba-cuda is not installed", "cupy is not installed", "no CUDA device"))


def test_without_gpu_or_simulator_exit_2(run_without_device):
    assert run_without_device.returncode == 2


def test_gpu_and_cpu_kernels_compile_the_same_site_statements():
    """The CUDA stencil is generated from the per-site statements the numba CPU row loop compiles: each is
    a line of its source, in order, typed as the CPU kernel types it."""
    link = "L{}_{}".format
    xoff = tuple(EvenOddLayout.lane_shift(d) for d in range(16))
    for body, ncomp, rec, ndir in ((wilson.hop(12, link, True), 24, 12, 8),
                                   (staggered.hop(18, link, 16, False), 6, 18, 16)):
        source = sources.hop_source(body, ncomp, rec, True, True, "float32", xoff[:ndir], ndir == 8)
        lines, at = [s.strip() for s in source.splitlines()], -1
        for s in body:
            at = lines.index(site.typed(s), at + 1)


def _nothing(a):
    pass


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
@pytest.mark.skipif(SIMULATED, reason="compiles for a real GPU, outside the simulator")
def test_kernels_compile_for_a_gpu(monkeypatch, lattice, gauge):
    """What the simulator does not check, without a GPU: numba-cuda's typing and NVVM's compilation to PTX
    for an H200 (sm_90) of the Wilson hop in half with reconstruct 12 (decode and encode in registers),
    lincomb and inner; skipped where the CUDA toolkit's NVVM is not installed (the ``cuda12`` extra has it)."""
    import numba
    from numba import cuda
    try:
        cuda.compile_ptx(_nothing, "void(float32[:])", cc=(9, 0))
    except Exception as exc:      # noqa: BLE001 - a missing toolkit shows itself in several ways
        pytest.skip(f"numba-cuda cannot compile PTX here: {type(exc).__name__}")
    compiled = []

    def compile_only(kernel, blocks, threads, args):
        compiled.append(cuda.compile_ptx(kernel.py_func, tuple(numba.typeof(a) for a in args), cc=(9, 0))[0])

    monkeypatch.setattr(device, "check", lambda: None)
    monkeypatch.setattr(device, "simulated", lambda: True)            # host arrays, no device to bind
    monkeypatch.setattr(device, "launch", compile_only)
    backend, layout = CupyBackend(), EvenOddLayout(lattice)
    links = RowLinks.wilson(layout, gauge.U, HALF, 12, (1, -1, 1, -1), backend)
    src = Field.from_canonical(layout, 1, HALF, spinors(lattice, 1), backend)
    out = Field.zeros(layout, 0, HALF, 24, backend)
    backend.wilson_hop(out, src, links, Halo(src).start().wait(), layout.all_rows)
    backend.lincomb(out, (1.0, 2.0), (src, out), accumulate=True, norm=True)
    backend.inner(src, out)
    assert len(compiled) == 3 and all(".target sm_90" in ptx for ptx in compiled)


@pytest.fixture(scope="module")
def lattice():
    return Lattice([4, 4, 4, 4])


@pytest.fixture(scope="module")
def gauge(lattice):
    return GaugeField.weak(lattice, 7, 0.3)


def spinors(lattice, seed, shape=(4, 3)):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(lattice.shape + shape) + 1j * rng.standard_normal(lattice.shape + shape)


@on_device
@pytest.mark.parametrize("precision,reconstruct,tol", HOPS, ids=lambda v: getattr(v, "name", str(v)))
def test_wilson_hop_agrees_with_numpy(lattice, gauge, precision, reconstruct, tol):
    layout, psi, got = EvenOddLayout(lattice), spinors(lattice, 1), []
    for backend in (NumpyBackend(), CupyBackend()):
        links = RowLinks.wilson(layout, gauge.U, precision, reconstruct, (1, -1, 1, -1), backend)
        src = Field.from_canonical(layout, 1, precision, psi, backend)
        out = Field.zeros(layout, 0, precision, 24, backend)
        backend.kernel("wilson_hop")(out, src, links, Halo(src).start().wait(), layout.all_rows)
        got.append(out.to_canonical(np.zeros_like(psi), (4, 3)))
    assert np.abs(got[1] - got[0]).max() <= tol * np.abs(got[0]).max()


@on_device
@pytest.mark.parametrize("precision", [SINGLE, HALF], ids=lambda p: p.name)
def test_asqtad_hop_agrees_with_numpy(lattice, gauge, precision):
    """16 directions, three-site hops through both lanes of the column ghosts, links carrying phases."""
    asqtad = (0.625, -1 / 24, -1 / 16, 1 / 64, -1 / 384, -1 / 16)
    d = StaggeredDirac(gauge, 0.1, boundary=(1, -1, 1, -1), coefficients=asqtad)
    b, got = spinors(lattice, 2, (3,)), []
    for backend in (NumpyBackend(), CupyBackend()):
        f = d.on_backend(backend).at(precision, 18)
        got.append(f.hop(Field.from_canonical(f.layout, 1, precision, b, backend)).to_canonical(np.zeros_like(b), (3,)))
    assert np.abs(got[1] - got[0]).max() <= {"single": 1e-6, "half": 1e-4}[precision.name] * np.abs(got[0]).max()


@on_device
@pytest.mark.parametrize("out_precision,in_precisions", [(DOUBLE, (DOUBLE, HALF)), (SINGLE, (SINGLE, DOUBLE)),
                                                         (HALF, (DOUBLE, HALF))], ids=["double", "single", "half"])
def test_blas_agrees_with_numpy(lattice, out_precision, in_precisions):
    """lincomb (accumulating, with the norm of its stored result), inner and norm2, float64 arithmetic."""
    layout, got = EvenOddLayout(lattice), []
    for backend in (NumpyBackend(), CupyBackend()):
        xs = [Field.from_canonical(layout, 0, p, spinors(lattice, 3 + i), backend) for i, p in enumerate(in_precisions)]
        out = Field.from_canonical(layout, 0, out_precision, spinors(lattice, 9), backend)
        n2 = backend.kernel("lincomb")(out, (0.5, 1 - 2j), xs, accumulate=True, norm=True)
        got.append((out.to_canonical(np.zeros(lattice.shape + (4, 3), complex), (4, 3)), n2,
                    backend.kernel("inner")(xs[1], out), backend.kernel("norm2")(xs[0])))
    (ref, n2, inner, norm), (out, n2_gpu, inner_gpu, norm_gpu) = got
    assert np.abs(out - ref).max() <= ROUNDING[out_precision.name] * np.abs(ref).max()
    assert abs(n2_gpu - n2) <= 1e-13 * n2 and abs(inner_gpu - inner) <= 1e-13 * abs(inner)
    assert abs(norm_gpu - norm) <= 1e-13 * norm


@on_device
@pytest.mark.parametrize("sloppy", ["double", "half"])
def test_evenodd_cg_agrees_with_numpy(lattice, gauge, sloppy):
    """Even-odd CG (double-half: reliable updates, half with reconstruct 12) on the backend's fields reaches
    the numpy backend's solution in the same number of iterations."""
    d, b, got = WilsonDirac(gauge, 1.0), spinors(lattice, 5), []          # mass 1: kappa 0.1, 19 iterations
    kw = {} if sloppy == "double" else {"sloppy": "half", "reconstruct_sloppy": 12}
    for backend in (NumpyBackend(), CupyBackend()):
        f = d.on_backend(backend)
        res = EvenOdd(CG(tol=1e-9, **kw))(f).solve(f.import_field(b))
        assert res.converged
        got.append((f.export_field(res.x), res.iterations))
    assert got[1][1] == got[0][1]
    agree = 1e-12 if sloppy == "double" else 1e-10      # half rounds the sloppy hops' outputs once more or less
    assert np.abs(got[1][0] - got[0][0]).max() <= agree * np.abs(got[0][0]).max()


@pytest.mark.gpu
@pytest.mark.skipif(not ON_DEVICE or SIMULATED, reason="needs a CUDA GPU")
def test_fields_live_on_the_gpu(lattice):
    import cupy
    f = Field.zeros(EvenOddLayout(lattice), 0, HALF, 24, CupyBackend())
    assert isinstance(f.data, cupy.ndarray) and isinstance(f.norm, cupy.ndarray)
