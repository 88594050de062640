"""The dense LU and refinement on a backend's kernels (:meth:`hpcmix.backends.base.Backend.dense_kernels`).

On the CPU: a backend whose kernels count their calls shows that the LU goes through the backend it is
given, and a stand-in device (numpy arrays of a subclass that, like cupy's, refuses to mix with host
arrays) shows that the factors, A and the refinement stay on the kernels' device, with the host path's
numbers bitwise. The tests marked ``gpu`` run the cupy backend's GPU kernels against the host ones on a GPU
(``pytest -m gpu``); numba-cuda's simulator must be chosen before numba.cuda is first imported, so
``test_under_the_simulator`` reruns them in a subprocess with ``NUMBA_ENABLE_CUDASIM=1``, where the cupy
backend hands out the host kernels (its arrays are numpy's). Here they skip.
"""

import collections
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from hpcmix import dense
from hpcmix.backends.cupy_backend import CupyBackend
from hpcmix.backends.numpy_backend import NumpyBackend
from hpcmix.dense import formats
from hpcmix.dense.factorization import LowPrecisionLU
from hpcmix.dense.lu import HostKernels
from hpcmix.dense.norms import inf_norm

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
ON_DEVICE, WHY = CupyBackend.available()


def on_device(test):
    """A test of the cupy backend's dense kernels on its device: a GPU, or the simulator (``gpu``-marked)."""
    return pytest.mark.gpu(pytest.mark.skipif(not ON_DEVICE, reason=f"{WHY}: runs in test_under_the_simulator")(test))


class CountingKernels:
    """The host kernels of the blocked LU, every call counted by name."""

    def __init__(self):
        self.host, self.calls = HostKernels(), collections.Counter()

    def __getattr__(self, name):
        fn = getattr(self.host, name)
        if not callable(fn):        # the array module
            return fn

        def counted(*args):
            self.calls[name] += 1
            return fn(*args)
        return counted


class KernelsBackend(NumpyBackend):
    """The numpy backend handing out dense kernel sets of ``kernel_class``; ``made`` holds every one."""

    kernel_class = None

    def __init__(self):
        super().__init__()
        self.made = []

    def dense_kernels(self):
        self.made.append(self.kernel_class())
        return self.made[-1]


class CountingBackend(KernelsBackend):
    """Counting dense kernels on the host."""

    name = "counting"
    kernel_class = CountingKernels


@pytest.mark.parametrize("prec", ["fp16", "fp32"])
def test_the_lu_runs_on_the_backends_kernels(prec):
    """Every step of the blocked LU goes through the given backend's kernels (fp32 too, which the host kernels
    themselves hand to LAPACK's whole-matrix sgetrf), and the numbers are the host kernels': the same solution
    bitwise for fp16, a float64 residual meeting HPL-MxP's rule."""
    A, b = dense.hpl_mxp(200, seed=1), dense.random_rhs(200, seed=1)
    backend = CountingBackend()
    res = dense.solve(A, b, prec, "gmres", backend=backend, block_size=64)
    assert len(backend.made) == 1
    calls = backend.made[0].calls
    assert calls["to_device"] == 1 and calls["getrs"] > 0 and calls["nrm2"] > 0   # the solves and GMRES too
    assert calls["getrf"] == 4 and calls["trsm"] == calls["update"] == 3      # 200 = 64 + 64 + 64 + 8
    assert res.converged and not res.fell_back and res.x.dtype == np.float64
    assert res.backward_error <= dense.HPL_THRESHOLD
    assert res.backward_error == pytest.approx(dense.hpl_mxp_ratio(A, res.x, b), rel=1e-12)
    host = dense.solve(A, b, prec, "gmres", block_size=64)
    if prec == "fp16":
        np.testing.assert_array_equal(res.x, host.x)
    np.testing.assert_allclose(res.x, np.linalg.solve(A, b), rtol=1e-12)


def test_the_fallback_lu_runs_on_the_same_backend():
    """A matrix beyond fp16's range falls back to the float64 LU, made with the same backend's kernels."""
    A = dense.randsvd(90, 1e3, 2, seed=3, scale=1e6)
    b = dense.random_rhs(90)
    backend = CountingBackend()
    f = dense.DenseFactorization(A, "fp16", backend=backend, block_size=32)
    assert f.backend is backend and f.lu.code == dense.CONVERSION_OVERFLOW
    res = f.solve(b)
    assert res.fell_back and res.converged and len(backend.made) == 2
    assert backend.made[1].calls["getrf"] == 3 and backend.made[1].calls["update"] == 2


class Dev(np.ndarray):
    """A numpy array standing in for a device array: like cupy's, it refuses to meet a host array (of one entry
    or more) in an operation or an assignment, so a host array leaking into the device's arithmetic raises TypeError."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = [host_view(x) for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(host_view(x) for x in kwargs["out"])
        return as_dev(getattr(ufunc, method)(*inputs, **kwargs))

    def __setitem__(self, key, value):
        host_view(self)[key] = host_view(value)


def host_view(x, check=True):
    """The numpy array under a Dev (a view of the same memory); a host array is refused unless ``check`` is off."""
    if isinstance(x, Dev):
        return x.view(np.ndarray)
    if check and isinstance(x, np.ndarray) and x.ndim > 0:
        raise TypeError("a host array in a device operation")
    return x


def as_dev(x):
    return x.view(Dev) if isinstance(x, np.ndarray) else x


class DeviceModule:
    """The stand-in device's array module: numpy's functions on Dev arrays, each use counted (numpy's types and
    constants as they are); only ``asarray`` takes host arrays (the copy to the device: ``copied`` has the shape of
    every host array it copied)."""

    def __init__(self):
        self.used = collections.Counter()
        self.copied = []

    def __getattr__(self, name):
        fn = getattr(np, name)
        if isinstance(fn, type) or not callable(fn):
            return fn

        def device_fn(*args, **kwargs):
            self.used[name] += 1
            if name == "asarray" and type(args[0]) is np.ndarray:
                self.copied.append(args[0].shape)
            args = [host_view(a, check=name != "asarray") for a in args]
            return as_dev(fn(*args, **kwargs))
        return device_fn


class DeviceKernels(HostKernels):
    """The host kernels' arithmetic on the stand-in device: the matrix, the factors and everything the refinement
    makes are Dev arrays; ``to_host`` is the only way back (``returned`` has the shape of every array it brought
    back), and the kernels insist on device arrays. The rounding, the GEMM update and the conversion of A run the
    host kernels' own code (:meth:`HostKernels.round`, :meth:`HostKernels.update`) in the stand-in module, as the
    cupy kernels do in cupy: the formats' array-module rounding (fp16, bf16, ...), the host rounding with a round
    trip for a format without one."""

    def __init__(self):
        self.xp, self.calls, self.returned = DeviceModule(), collections.Counter(), []

    def _count(self, name, *device_args):
        self.calls[name] += 1
        assert all(isinstance(a, Dev) for a in device_args), f"{name} got a host array"

    def to_device(self, W):
        """A device matrix in Fortran order (no copy if it is already, as cupy.asfortranarray)."""
        self._count("to_device", W)
        return as_dev(np.asfortranarray(host_view(W)))

    def to_host(self, x):
        self._count("to_host", x)
        self.returned.append(x.shape)
        return x.view(np.ndarray).copy()

    def getrf(self, panel):
        self._count("getrf", panel)
        lu, ip, info = super().getrf(host_view(panel))
        return as_dev(lu), ip, info

    def place_panel(self, W, k, lu, piv):
        self._count("place_panel", W, lu)
        super().place_panel(host_view(W), k, host_view(lu), piv)

    def trsm(self, L11, W12):
        self._count("trsm", L11, W12)
        return as_dev(super().trsm(host_view(L11), host_view(W12)))

    def round(self, x, precision):
        self._count("round", x)
        return super().round(x, precision)

    def update(self, W22, L21, U12, precision):
        self._count("update", W22, L21, U12)
        super().update(W22, L21, U12, precision)

    def getrs(self, lu, piv, C):
        self._count("getrs", lu, piv, C)
        return as_dev(super().getrs(host_view(lu), host_view(piv), host_view(C)))

    def nrm2(self, v):
        self._count("nrm2", v)
        return super().nrm2(host_view(v))


class DeviceBackend(KernelsBackend):
    """The stand-in device's dense kernels."""

    name = "stand-in device"
    kernel_class = DeviceKernels


def test_the_stand_in_device_refuses_host_arrays():
    xp = DeviceModule()
    x = xp.asarray(np.arange(3.0))
    assert isinstance(x + 1.0, Dev) and isinstance(abs(x).max(axis=0), float)
    with pytest.raises(TypeError, match="host array"):
        x + np.ones(3)
    with pytest.raises(TypeError, match="host array"):
        xp.where(x > 0, np.ones(3), 1.0)


@pytest.mark.parametrize("prec", ["fp16", "fp16-scaled"])
@pytest.mark.parametrize("method", ["classical", "gmres", "classical_gmres"])
def test_the_refinement_runs_on_the_kernels_device(prec, method):
    """With device kernels the factors and A (copied once) stay on the device and the refinement runs there, through
    the kernel set's array module, solves and 2-norms, with the host path's numbers bitwise (the same arithmetic:
    the blocked LU either way for fp16); the results come back as host arrays."""
    A, b = dense.randsvd(150, 1e3, 3, seed=4), dense.random_rhs(150, nrhs=2, seed=4)
    backend = DeviceBackend()
    f = dense.DenseFactorization(A, prec, backend=backend, block_size=64)
    kernels = f.lu.kernels
    assert isinstance(f.lu.lu, Dev) and isinstance(f.A_work, Dev) and type(f.A) is np.ndarray
    assert (f.lu.r is None) == (prec == "fp16") and (f.lu.r is None or isinstance(f.lu.r, Dev))
    res = f.solve(b, method, max_iters=200)
    host = dense.solve(A, b, prec, method, block_size=64, max_iters=200)
    assert type(res.x) is np.ndarray and res.x.flags.owndata
    np.testing.assert_array_equal(res.x, host.x)
    # ||A|| is a float64 reduction in the device's own order (not LAPACK's dlange): the ratios agree to rounding
    assert f.normA == pytest.approx(inf_norm(A), rel=1e-15)
    assert (res.code, res.niters, res.outer_niters) == (host.code, host.niters, host.outer_niters)
    np.testing.assert_allclose(res.history, host.history, rtol=1e-14)
    assert res.backward_error == pytest.approx(host.backward_error, rel=1e-14) and res.converged and not res.fell_back
    assert len(backend.made) == 1 and kernels.calls["to_device"] == 1 and kernels.calls["getrs"] >= 1
    assert (kernels.calls["nrm2"] > 0) == (method == "gmres")    # classical_gmres: classical steps suffice here
    assert kernels.xp.used["asarray"] >= 2 and kernels.xp.used["isfinite"] > 0


def test_the_fallback_refines_on_the_same_device():
    """The float64 LU of a fallback is made on the device as well, and refined there against the same copy of A."""
    A, b = dense.randsvd(90, 1e3, 2, seed=3, scale=1e6), dense.random_rhs(90)
    backend = DeviceBackend()
    res = dense.solve(A, b, "fp16", backend=backend, block_size=32)
    host = dense.solve(A, b, "fp16", block_size=32)
    assert res.fell_back and res.converged and len(backend.made) == 2
    assert backend.made[1].calls["getrs"] >= 1 and res.backward_error <= dense.HPL_THRESHOLD
    assert np.abs(res.x - host.x).max() <= 1e-12 * np.abs(host.x).max()


@pytest.mark.parametrize("prec", ["fp16", "bf16", "fp16-scaled", "tf32"])
def test_the_conversion_runs_on_the_device(prec):
    """A is copied to the device once; its norms, the squeezing and the rounding to the format run there (the stand-in
    refuses a host array in any operation or assignment, and nothing of n x n comes back to the host), and the
    working matrix is made there: the factors, pivots and scalings are bitwise the host's."""
    n = 150
    A, b = dense.randsvd(n, 1e3, 3, seed=5), dense.random_rhs(n, seed=5)
    A[3, :] *= 1e-3                                  # a row far from the others, for the squeezing
    backend = DeviceBackend()
    f = dense.DenseFactorization(A, prec, backend=backend, block_size=64)
    kernels, xp = f.lu.kernels, f.lu.kernels.xp
    assert len(backend.made) == 1 and f.lu.ok
    assert xp.copied.count((n, n)) == 1 and all(np.prod(shape) < n * n for shape in kernels.returned)
    assert kernels.calls["round"] >= 2 and xp.used["where"] > 0      # the conversion's rounding and the GEMMs'
    host = LowPrecisionLU(A, formats.lookup(prec), block_size=64)
    np.testing.assert_array_equal(kernels.to_host(f.lu.lu), host.lu)
    np.testing.assert_array_equal(f.lu.piv, host.piv)
    if host.r is not None:
        np.testing.assert_array_equal(kernels.to_host(f.lu.r), host.r)
        np.testing.assert_array_equal(kernels.to_host(f.lu.s), host.s)
        assert f.lu.mu == host.mu
    np.testing.assert_array_equal(f.solve(b, "gmres").x, dense.solve(A, b, prec, "gmres", block_size=64).x)


def _edge_values(dtype):
    rng = np.random.default_rng(7)
    exps = rng.integers(-150, 130, 4000).astype(float)
    x = rng.uniform(1, 2, 4000) * np.exp2(exps) * rng.choice([-1.0, 1.0], 4000)
    ties = []
    for frac, lo, hi in ((10, -24, 16), (7, -133, 128), (10, -136, 128)):   # fp16, bf16, tf32 spacings
        e = np.arange(lo, hi, dtype=float)
        k = rng.integers(0, 2**frac, e.size)
        m = (1 + k * 2.0**-frac) * np.exp2(e)
        ties += [m + np.exp2(e - frac - 1), m - np.exp2(e - frac - 1), m + np.exp2(e - frac - 1) * (1 + 2.0**-30)]
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 65504.0, 65519.99, 65520.0, 65536.0, 2.0**-24, 2.0**-25,
               3 * 2.0**-26, 2.0**-14 - 2.0**-30, 3.4e38, 3.4028235e38, 3.403e38, 1e39, 2.0**-149, 2.0**-150, 1e-300, 1.0]
    with np.errstate(over="ignore"):
        return np.concatenate([x, *ties, special]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("prec", ["fp16", "bf16", "tf32", "fp32", "fp64"])
def test_the_device_rounding_is_the_hosts(prec, dtype):
    """The kernel set's rounding in the device's array module (the formats' ``round_any``, what the cupy kernels run
    in cupy) gives the host rounding's numbers bit for bit: ties, subnormals, overflow, zeros, inf and NaN included,
    from float64 (the conversion of A) and float32 (the GEMM operands), real and complex."""
    p = formats.lookup(prec)
    if dtype == np.float32 and prec == "fp64":
        pytest.skip("the fp64 LU has no low-precision operands")
    x = _edge_values(dtype).reshape(-1, 2)
    z = np.empty(len(x), np.result_type(dtype, np.complex64))
    z.real, z.imag = x[:, 0], x[:, 1]
    kernels = DeviceKernels()
    for v in (x, x.T, z):
        want = p.round(v)
        got = kernels.round(kernels.xp.asarray(v), p)
        assert isinstance(got, Dev) and got.dtype == want.dtype and got.shape == want.shape
        got, want = np.ascontiguousarray(host_view(got)), np.ascontiguousarray(want)
        real = want.view(want.real.dtype)
        np.testing.assert_array_equal(np.isnan(got.view(real.dtype)), np.isnan(real))      # NaN: any sign, payload
        np.testing.assert_array_equal(np.where(np.isnan(got.view(real.dtype)), 0, got.view(real.dtype)).view(np.uint8),
                                      np.where(np.isnan(real), 0, real).view(np.uint8))
    assert kernels.calls["to_host"] == 0         # rounded in the device's module, not on the host


def test_a_format_without_device_rounding_rounds_on_the_host():
    """A plugin's format with no array-module rounding is rounded on the host (a round trip of each block), bitwise
    the host path's numbers."""
    e8m5 = formats.FactorizationPrecision("e8m5", description="test", significand_bits=6, max_value=3.0e38,
                                          round_real=formats.fp32_range_rounder(5), bytes_per_real=2)
    A, b = dense.randsvd(100, 10, 3, seed=6), dense.random_rhs(100, seed=6)
    backend = DeviceBackend()
    res = dense.solve(A, b, e8m5, "gmres", backend=backend, block_size=32)
    kernels = backend.made[0]
    assert kernels.returned.count((100, 100)) == 1 and kernels.xp.copied.count((100, 100)) == 2
    np.testing.assert_array_equal(res.x, dense.solve(A, b, e8m5, "gmres", block_size=32).x)


@pytest.mark.parametrize("prec", ["fp64", "fallback"])
def test_rcond_is_estimated_once_per_factorization(prec):
    """The float64 factors come to the host for LAPACK's ?gecon once per factorization, not on every solve."""
    if prec == "fp64":
        A, b = dense.randsvd(80, 1e3, 3, seed=8), dense.random_rhs(80, seed=8)
    else:
        A, b = dense.randsvd(80, 1e3, 2, seed=3, scale=1e6), dense.random_rhs(80)
    backend = DeviceBackend()
    f = dense.DenseFactorization(A, "fp64" if prec == "fp64" else "fp16", backend=backend, block_size=32)
    results = [f.solve(b) for _ in range(3)]
    kernels = backend.made[-1]
    assert kernels.returned.count((80, 80)) == 1
    host = dense.solve(A, b, "fp64" if prec == "fp64" else "fp16", block_size=32)
    assert all(r.converged and r.rcond == pytest.approx(host.rcond, rel=1e-12) for r in results)
    assert results[0].rcond == results[2].rcond


@pytest.fixture(scope="module")
def cupy_backend():
    return CupyBackend()


@on_device
@pytest.mark.parametrize("prec", [formats.FP32, formats.TF32, formats.BF16, formats.FP16, formats.FP16_SCALED])
def test_gpu_factors_match_the_host_factors(prec, cupy_backend):
    A = dense.randsvd(300, 1e3, 3, seed=1)
    host = LowPrecisionLU(A, prec, block_size=64)
    device = LowPrecisionLU(A, prec, backend=cupy_backend, block_size=64)
    assert host.ok and device.ok
    assert np.mean(host.piv == device.piv) > 0.95
    b = dense.random_rhs(300)
    x_host, x_dev = host.solve64(b), device.kernels.to_host(device.solve64(device.kernels.xp.asarray(b)))
    assert np.abs(x_host - x_dev).max() / np.abs(x_host).max() < 100 * prec.unit_roundoff * 1e3


@on_device
@pytest.mark.parametrize("prec", ["fp32", "tf32", "bf16", "fp16", "fp16-scaled"])
def test_gpu_solve_converges(prec, cupy_backend):
    A = dense.randsvd(256, 1e4, 2, seed=2)
    Ac = dense.randsvd(128, 1e2, 2, seed=3, complex=True)
    for M in (A, Ac):
        b = dense.random_rhs(M.shape[0], nrhs=2)
        res = dense.solve(M, b, prec, "gmres", backend=cupy_backend, block_size=64)
        assert res.code == dense.SUCCESS and res.backward_error <= dense.HPL_THRESHOLD


@on_device
def test_cupy_backend_kernels(cupy_backend):
    """The GPU kernels on a GPU; the host kernels in the simulator."""
    kernels = cupy_backend.dense_kernels()
    if SIMULATED:
        assert type(kernels) is HostKernels
    else:
        from hpcmix.dense.gpu import CupyKernels
        assert isinstance(kernels, CupyKernels)


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
@pytest.mark.skipif(SIMULATED, reason="this is the simulator's run")
def test_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-m", "gpu", "-p", "no:cacheprovider"],
                         cwd=os.path.dirname(__file__), env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert "11 passed" in run.stdout, run.stdout[-3000:]
