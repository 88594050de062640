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
from hpcmix.backends.kernels import blas, faces, site, staggered, wilson
from hpcmix.backends.numpy_backend import NumpyBackend
from hpcmix.fields.block import FieldBlock
from hpcmix.fields.field import Field
from hpcmix.fields.gauge import GaugeField
from hpcmix.fields.halo import Halo
from hpcmix.fields.layout import EvenOddLayout
from hpcmix.fields.links import RowLinks
from hpcmix.lattice import Lattice
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.operators.wilson_fields import chiral_blocks
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
ROUNDING = {"double": 4e-16, "single": 2e-7, "half": 1 / 32767, "quarter": 1 / 127}
PRECISIONS = pytest.mark.parametrize("precision", [DOUBLE, SINGLE, HALF, QUARTER], ids=lambda p: p.name)


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
        in_order([site.typed(s) for s in body], source)


def in_order(statements, *sources_):
    """Each of ``statements`` is a line of each of ``sources_``, in order."""
    for source in sources_:
        lines, at = [s.strip() for s in source.splitlines()], -1
        for s in statements:
            at = lines.index(s, at + 1)


def test_gpu_and_cpu_faces_site_and_block_kernels_compile_the_same_statements():
    """The faces and the BLAS-1 terms (of fields and of blocks) are the same per-site statements on both targets
    (a face's encode rounding with each target's round-half-even); the clover site term's CUDA statements are
    :func:`site_block_terms` (the CPU's loop form of the same sums is held to the reference bitwise)."""
    for fx in (False, True):
        cpu, gpu = faces.pack(fx, fx), faces.pack(fx, fx, rint="round")
        assert [s.replace("np.rint(", "round(") for s in cpu] == gpu
        in_order(cpu, faces.pack_source(fx, fx))
        in_order(gpu, sources.face_pack_source(fx, "float32"))
        in_order(faces.unpack(fx), faces.unpack_source(fx), sources.face_unpack_source(fx))
        in_order(blas.site_block_terms(fx), sources.site_blocks_source(fx, fx, "float32"))   # CPU: loop form
        in_order(blas.combination_term("f1", fx, "c1r", "c1i"), blas.lincomb_source((True, fx), fx, True, True),
                 sources.lincomb_source((True, fx), fx, True, True, 24))
        in_order(blas.combination_term("v", fx, "cr[iv]", "ci[iv]", "iv, row"), blas.block_lincomb_source(fx, fx, True),
                 sources.block_lincomb_source(fx, fx, True, 24))
        in_order(blas.product_term(fx, True), blas.reduce_source(fx, True), sources.reduce_source(fx, True))
        in_order(blas.product_load(True) + blas.product_add(fx, "iv, row"), blas.block_reduce_source(fx, True),
                 sources.block_reduce_source(fx, True))


def _nothing(a):
    pass


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
@pytest.mark.skipif(SIMULATED, reason="compiles for a real GPU, outside the simulator")
def test_kernels_compile_for_a_gpu(monkeypatch, lattice, gauge):
    """What the simulator does not check, without a GPU: numba-cuda's typing and NVVM's compilation to PTX
    for an H200 (sm_90) of the Wilson hop in half with reconstruct 12 (decode and encode in registers),
    lincomb, inner, the faces, the clover site term and the block kernels; skipped where the CUDA toolkit's
    NVVM is not installed (the ``cuda12`` extra has it)."""
    import numba
    from numba import cuda
    try:
        cuda.compile_ptx(_nothing, "void(float32[:])", cc=(9, 0))
    except Exception as exc:      # noqa: BLE001 - a missing toolkit shows itself in several ways
        pytest.skip(f"numba-cuda cannot compile PTX here: {type(exc).__name__}")
    compiled = []

    def compile_only(kernel, blocks, threads, args, stream=None):
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
    face = backend.wilson_face_pack(src, np.arange(3, dtype=np.int32), 2)
    backend.wilson_face_unpack(out, slice(0, 3), *face, 2)
    backend.site_blocks(out, src, np.zeros((layout.nrows, 144, layout.xh), np.float32))
    block = FieldBlock(layout, 0, HALF, 24, 2, backend)
    backend.block_inner(block, out)
    backend.block_lincomb(out, (1.0, 2j), block, accumulate=True)
    assert len(compiled) == 8 and all(".target sm_90" in ptx for ptx in compiled)


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


def agree(got, want, precision):
    """Bitwise in the simulator (the reference's arithmetic, operation for operation), else to the output's
    rounding relative to max |want| (a GPU may contract a * b + c into one rounding)."""
    if SIMULATED:
        np.testing.assert_array_equal(got, want)
    else:
        assert np.abs(got - want).max() <= 8 * ROUNDING[precision.name] * np.abs(want).max()


def decoded(data, norm):
    """Fixed-point integers times their site's norm (IEEE values as they are), float64 ``[row, k, xh]``."""
    return data.astype(np.float64) * (1.0 if norm is None else norm[:, None, :].astype(np.float64))


@on_device
@PRECISIONS
def test_faces_agree_with_numpy(lattice, precision):
    """The spin-projected Wilson faces in every direction: pack (h = psi_up + S psi_down of some rows,
    encoded as the field stores) and unpack ([h; S^dag h] halved, or h's integers with half the norm)."""
    layout, psi, got = EvenOddLayout(lattice), spinors(lattice, 4), []
    rows = np.arange(0, layout.nrows, 5, dtype=np.int32)
    for backend in (NumpyBackend(), CupyBackend()):
        x = Field.from_canonical(layout, 0, precision, psi, backend)
        sent = []
        for d in range(8):
            data, norm = backend.kernel("wilson_face_pack")(x, rows, d)
            ghost = Field.zeros(layout, 1, precision, 24, backend)
            backend.kernel("wilson_face_unpack")(ghost, slice(2, 2 + rows.size), data, norm, d)
            assert data.dtype == precision.storage_dtype and (norm is None) == (not precision.has_norm)
            sent.append([backend.to_host(a) for a in (data, norm, ghost.data, ghost.norm)])
        got.append(sent)
    for (data, norm, gd, gn), want in zip(got[1], got[0]):
        if SIMULATED:
            for a, b in zip((data, norm, gd, gn), want):
                assert (a is None) == (b is None) and (a is None or np.array_equal(a, b))
        else:
            agree(decoded(data, norm), decoded(*want[:2]), precision)
            agree(decoded(gd, gn), decoded(*want[2:]), precision)


@on_device
@PRECISIONS
def test_site_blocks_and_gamma5_agree_with_numpy(lattice, precision):
    """The clover site term out = A x (A's two 6x6 chiral blocks per site, random, in the precision's real
    type) and gamma5 (the reference's slicing, on the backend's arrays; in place too)."""
    rng, layout, psi, got = np.random.default_rng(8), EvenOddLayout(lattice), spinors(lattice, 6), []
    a = np.zeros(lattice.shape + (12, 12), complex)
    for s in (slice(0, 6), slice(6, 12)):
        a[..., s, s] = rng.standard_normal(lattice.shape + (6, 6)) + 1j * rng.standard_normal(lattice.shape + (6, 6))
    for backend in (NumpyBackend(), CupyBackend()):
        x = Field.from_canonical(layout, 1, precision, psi, backend)
        out, g5 = Field.zeros(layout, 1, precision, 24, backend), Field.zeros(layout, 1, precision, 24, backend)
        backend.kernel("site_blocks")(out, x, backend.asarray(chiral_blocks(layout, 1, a, precision.real_dtype)))
        backend.kernel("gamma5")(g5, x)
        backend.kernel("gamma5")(x, x)
        got.append([f.to_canonical(np.zeros_like(psi), (4, 3)) for f in (out, g5, x)])
    agree(got[1][0], got[0][0], precision)
    np.testing.assert_array_equal(got[1][1], got[0][1])
    np.testing.assert_array_equal(got[1][2], got[0][1])


@on_device
@PRECISIONS
def test_block_kernels_agree_with_numpy(lattice, precision):
    """block_inner (float64 sums per field of the block) and block_lincomb, accumulating or not, of a block of
    three fields (and of a view of two of them)."""
    layout, coeffs, got = EvenOddLayout(lattice), (0.5, 1 - 2j, 0.25j), []
    for backend in (NumpyBackend(), CupyBackend()):
        block = FieldBlock(layout, 0, precision, 24, 3, backend)
        for i in range(3):
            block.store(i, 1.0, Field.from_canonical(layout, 0, DOUBLE, spinors(lattice, 10 + i), backend))
        x = Field.from_canonical(layout, 0, precision, spinors(lattice, 13), backend)
        inner = [backend.kernel("block_inner")(b, x) for b in (block, block.part(1, 3))]
        outs = []
        for accumulate in (False, True):
            out = Field.from_canonical(layout, 0, precision, spinors(lattice, 14), backend)
            backend.kernel("block_lincomb")(out, coeffs[:len(block)], block, accumulate)
            outs.append(out.to_canonical(np.zeros(lattice.shape + (4, 3), complex), (4, 3)))
        got.append((inner, outs))
    for have, want in zip(got[1][0], got[0][0]):
        assert have.dtype == np.complex128 and have.shape == want.shape
        assert np.abs(have - want).max() <= 1e-13 * np.abs(want).max()
    for have, want in zip(got[1][1], got[0][1]):
        agree(have, want, precision)


@on_device
@pytest.mark.parametrize("precision,reconstruct,tol", [(DOUBLE, 18, 1e-14), (HALF, 12, 1e-4)], ids=["double", "half"])
def test_clover_schur_operator_agrees_with_numpy(lattice, gauge, precision, reconstruct, tol):
    """The Wilson-clover Schur complement and its adjoint (hops, the site term A and A^-1 as site_blocks,
    gamma5, lincomb) in a storage precision on the backend's fields equal the numpy backend's."""
    d, b, got = WilsonDirac(gauge, 0.2, boundary=(1, -1, 1, -1), csw=1.0), spinors(lattice, 15), []
    for backend in (NumpyBackend(), CupyBackend()):
        f = d.on_backend(backend)
        op, x = f.at(precision, reconstruct).schur(0)[0], f.import_field(b)[0]
        got.append([f.export_field(y) for y in (op(x), op.adjoint()(x))])
    for have, want in zip(got[1], got[0]):
        assert np.abs(have - want).max() <= tol * np.abs(want).max()


@pytest.mark.gpu
@pytest.mark.skipif(not ON_DEVICE or SIMULATED, reason="needs a CUDA GPU")
def test_fields_live_on_the_gpu(lattice):
    import cupy
    f = Field.zeros(EvenOddLayout(lattice), 0, HALF, 24, CupyBackend())
    assert isinstance(f.data, cupy.ndarray) and isinstance(f.norm, cupy.ndarray)
