"""The out-of-tree plugin plugins/hpcmix-lowfloat: correct rounding, its precisions, pip install + entry point."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pluggy
import pytest
from mpi4py import MPI

from hpcmix import hookspecs
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.precision import plugin as builtin_plugin
from hpcmix.precision import resolve
from hpcmix.precision.reconstruct import TWIST
from hpcmix.registry import Registry
from mpi_helpers import ROOT
from plugin_helpers import pip_install_copy

PLUGIN_DIR = ROOT / "plugins" / "hpcmix-lowfloat"
sys.path.insert(0, str(PLUGIN_DIR))

from hpcmix_lowfloat import plugin as lowfloat_plugin  # noqa: E402
from hpcmix_lowfloat.precisions import BFLOAT16, FLOAT16  # noqa: E402
from hpcmix_lowfloat.rounding import BF16, FP16, bfloat16_to_float32, round_bits  # noqa: E402

BF16_MAX = (2 - 2.0 ** -7) * 2.0 ** 127

# (x, correctly rounded result); each x lies just off a halfway point that float32 rounds onto, so
# float64 -> float32 -> 16 bits rounds the wrong way.
BF16_CASES = [
    (1 + 2 ** -8 + 2 ** -30, 1 + 2 ** -7),          # float32 gives the tie 1 + 2^-8 -> even 1
    (1 + 3 * 2 ** -8 - 2 ** -30, 1 + 2 ** -7),      # float32 gives the tie 1 + 3 2^-8 -> even 1 + 2^-6
    (-(1 + 2 ** -8 + 2 ** -30), -(1 + 2 ** -7)),
    (2.0 ** -134 + 2.0 ** -170, 2.0 ** -133),       # subnormal: float32 gives the tie 2^-134 -> 0
    (BF16_MAX + 2.0 ** 119 - 2.0 ** 90, BF16_MAX),  # float32 gives the overflow tie -> inf
]
FP16_CASES = [
    (1 + 2 ** -11 + 2 ** -40, 1 + 2 ** -10),
    (1 + 3 * 2 ** -11 - 2 ** -40, 1 + 2 ** -10),
    (65520 - 2.0 ** -20, 65504.0),                  # float32 gives the overflow tie 65520 -> inf
    (2.0 ** -25 + 2.0 ** -60, 2.0 ** -24),          # subnormal: float32 gives the tie 2^-25 -> 0
]


def bf16_reference(x):
    """Round to nearest even by exact float64 arithmetic: the nearest multiple of the local spacing
    2^(e - 8) (|x| = m 2^e, m in [1/2, 1)), at least 2^-133; past the largest finite value, inf."""
    _, e = np.frexp(x)
    q = np.ldexp(1.0, np.maximum(e - 8, -133))
    y = np.rint(x / q) * q
    return np.where(np.abs(y) >= 2.0 ** 128, np.copysign(np.inf, x), y)


def test_double_rounding_cases():
    x, expect = (np.array(c, dtype=np.float64) for c in zip(*BF16_CASES))
    got = bfloat16_to_float32(round_bits(x, BF16)).astype(np.float64)
    np.testing.assert_array_equal(got, expect)
    via_float32 = bfloat16_to_float32(round_bits(x.astype(np.float32).astype(np.float64), BF16))
    assert (via_float32 != expect).all()  # the cases do expose double rounding
    x, expect = (np.array(c, dtype=np.float64) for c in zip(*FP16_CASES))
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(x.astype(np.float16), expect)  # numpy's cast rounds once
        np.testing.assert_array_equal(round_bits(x, FP16).view(np.float16), expect)
        assert (x.astype(np.float32).astype(np.float16) != expect).all()


def sample(rng, n=200_000):
    x = rng.standard_normal(n) * 10.0 ** rng.uniform(-45, 40, n)
    ties = (rng.integers(1, 2 ** 12, n) + 0.5) * 2.0 ** rng.integers(-150, 120, n)  # exact halfway points
    special = [0.0, -0.0, np.inf, -np.inf, 5e-324, -2.0 ** -1022, 1.7e308, BF16_MAX, 3.4e38, 65504.0, 65520.0]
    return np.concatenate([x, ties, -ties, special])


def test_bfloat16_matches_exact_rounding():
    x = sample(np.random.default_rng(9))
    got = bfloat16_to_float32(round_bits(x, BF16)).astype(np.float64)
    np.testing.assert_array_equal(got, bf16_reference(x))
    np.testing.assert_array_equal(np.signbit(got), np.signbit(x))
    assert np.isnan(bfloat16_to_float32(round_bits(np.array([np.nan]), BF16))).all()


def test_float16_bits_match_numpy():
    x = np.concatenate([sample(np.random.default_rng(10)), [np.nan]])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(round_bits(x, FP16), x.astype(np.float16).view(np.uint16))


@pytest.mark.parametrize("prec", [FLOAT16, BFLOAT16], ids=lambda p: p.name)
def test_round_trip(prec):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((2, 2, 2, 4, 4, 3)) + 1j * rng.standard_normal((2, 2, 2, 4, 4, 3)))
    x *= 10.0 ** rng.uniform(-20, 20, (2, 2, 2, 4, 1, 1))
    stored = prec.encode(x)
    assert stored.data.dtype == prec.storage_dtype and stored.decode().dtype == np.complex64
    v = np.stack([x.real, x.imag], axis=-1)
    err = np.abs(np.stack([stored.decode().real, stored.decode().imag], axis=-1) - v)
    if prec is FLOAT16:
        s = np.abs(v).max(axis=(-1, -2, -3), keepdims=True)
        assert stored.norm.dtype == np.float32 and stored.norm.shape == x.shape[:4]
        assert (np.log2(stored.norm) == np.round(np.log2(stored.norm))).all()  # powers of two
        assert (err <= 2.0 ** -11 * np.abs(v) + 2.0 ** -24 * s).all()
        exact = (v / stored.norm[..., None, None, None].astype(np.float64)).astype(np.float16)
        np.testing.assert_array_equal(stored.data, exact)  # one correct rounding of v / 2^k
    else:
        assert stored.norm is None
        assert (err <= 2.0 ** -8 * np.abs(v)).all()
        np.testing.assert_array_equal(stored.data, round_bits(v, BF16))


@pytest.mark.parametrize("prec", [FLOAT16, BFLOAT16], ids=lambda p: p.name)
def test_links(prec):
    """Bounds as in test_reconstruct.py. Reconstruct 8 on a weak field: with u = 2^-8, bfloat16 refuses
    about 1.5e-5 of Haar-random links (stored N < u), as quarter does."""
    lattice = Lattice([4, 4, 4, 4], comm=MPI.COMM_SELF)
    U, W = GaugeField.random(lattice, seed=12).U, GaugeField.weak(lattice, seed=13).U
    e = prec.unit_roundoff + 2.0 ** -24
    assert np.abs(prec.round_links(U, 18) - U).max() <= np.sqrt(2) * e
    assert np.abs(prec.round_links(U, 12) - U).max() <= 4 * e
    V = W @ TWIST
    kappa = np.minimum(np.minimum(np.abs(V[..., 0, 0]), np.abs(V[..., 2, 0])),
                       np.sqrt(np.abs(V[..., 0, 1]) ** 2 + np.abs(V[..., 0, 2]) ** 2))
    assert (np.abs(prec.round_links(W, 8) - W).max(axis=(-1, -2)) <= 6 * e / kappa).all()


def test_registered_beside_builtins():
    pm = pluggy.PluginManager("hpcmix")
    pm.add_hookspecs(hookspecs)
    pm.register(builtin_plugin)
    pm.register(lowfloat_plugin)
    reg = Registry(pm)
    assert reg.names("precisions") == ["bfloat16", "double", "float16", "half", "quarter", "single"]
    assert resolve(reg, "bfloat16", reconstruct=12) is BFLOAT16


@pytest.mark.slow
def test_pip_install_and_entry_point(tmp_path):
    """pip builds and installs the plugin (from a copy, keeping the tree clean; --no-deps as hpcmix runs
    from the checkout); the installed copy is found through the ``hpcmix`` entry-point group and
    registers through pluggy. About 10 s: pip sets up an isolated build environment."""
    target = pip_install_copy(PLUGIN_DIR.name, tmp_path)
    check = textwrap.dedent("""
        from importlib.metadata import entry_points
        import pluggy
        from hpcmix import hookspecs
        from hpcmix.precision import plugin
        from hpcmix.registry import Registry
        (ep,) = [ep for ep in entry_points(group="hpcmix") if ep.name == "lowfloat"]
        assert ep.value == "hpcmix_lowfloat.plugin", ep.value
        pm = pluggy.PluginManager("hpcmix")
        pm.add_hookspecs(hookspecs)
        pm.register(plugin)
        pm.load_setuptools_entrypoints("hpcmix")
        import hpcmix_lowfloat
        print(hpcmix_lowfloat.__file__)
        for e in Registry(pm).entries("precisions"):
            print(e.name, "|", e.origin)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), str(ROOT)]))
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(str(target))
    assert "float16 | hpcmix-lowfloat 0.1.0 (entry point)" in lines
    assert "bfloat16 | hpcmix-lowfloat 0.1.0 (entry point)" in lines
