"""Factorization precisions: correct rounding (checked against exact rational arithmetic), range,
registration and lookup."""

from fractions import Fraction

import numpy as np
import pytest

from hpcmix.dense import formats
from hpcmix.errors import HpcmixError
from hpcmix.precision import Precision


def exact_round(x, frac_bits, emin, max_finite):
    """Round the float ``x`` to nearest-even with ``frac_bits`` fraction bits, minimum normal exponent
    ``emin`` (gradual underflow below it) and overflow beyond ``max_finite`` -- in exact arithmetic."""
    if x == 0:
        return 0.0
    f = Fraction(x)
    a = abs(f)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while Fraction(2) ** e > a:          # make 2^e <= a < 2^(e+1) where a is normal
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    e = max(e, emin)
    ulp = Fraction(2) ** (e - frac_bits)
    q, rem = divmod(a, ulp)
    if rem * 2 > ulp or (rem * 2 == ulp and q % 2 == 1):
        q += 1
    r = q * ulp
    if r > Fraction(max_finite):          # rounded with an unbounded exponent, beyond the largest finite
        return float("inf") if x > 0 else float("-inf")
    return float(r) if x > 0 else -float(r)


def near_ties(rng, frac_bits, count, exp_lo, exp_hi):
    """float64 values on and just off the rounding midpoints of a format, over a range of exponents."""
    e = rng.integers(exp_lo, exp_hi, count)
    m = rng.integers(2**frac_bits, 2**(frac_bits + 1), count)
    mid = (m + 0.5) * np.exp2(e - frac_bits)
    jitter = rng.choice([0.0, 1.0, -1.0], count) * np.exp2(e - frac_bits - 30)
    return np.where(rng.random(count) < 0.5, -1, 1) * (mid + jitter)


@pytest.mark.parametrize("prec, frac, emin", [(formats.BF16, 7, -126), (formats.TF32, 10, -126),
                                              (formats.FP16, 10, -14), (formats.FP32, 23, -126)])
def test_rounding_from_float64_is_correct(prec, frac, emin):
    rng = np.random.default_rng(7)
    top = int(np.floor(np.log2(prec.max_value)))
    x = np.concatenate([near_ties(rng, frac, 600, emin - frac - 1, top + 1),   # subnormals to the top binade
                        rng.standard_normal(200) * 10.0 ** rng.integers(-8, 8, 200)])
    got = prec.round(x)
    assert got.dtype == np.float32
    want = np.array([exact_round(v, frac, emin, prec.max_value) for v in x])
    np.testing.assert_array_equal(got.astype(np.float64), want)


@pytest.mark.parametrize("prec", [formats.BF16, formats.TF32, formats.FP16])
def test_rounding_from_float32_matches_float64_path(prec):
    rng = np.random.default_rng(3)
    x32 = (rng.standard_normal(5000) * 10.0 ** rng.integers(-30, 30, 5000)).astype(np.float32)
    np.testing.assert_array_equal(prec.round(x32), prec.round(x32.astype(np.float64)))


def test_overflow_nan_and_complex():
    assert not formats.FP16.overflows(65504.0) and not formats.FP16.overflows(65519.0)
    assert formats.FP16.overflows(65520.0)                   # the midpoint to 2^16 rounds to even: inf
    assert formats.BF16.overflows(3.4e38) and not formats.BF16.overflows(3.38e38)
    assert formats.FP32.overflows(1e39) and not formats.FP64.overflows(1e308)
    out = formats.BF16.round(np.array([np.nan, np.inf, -np.inf, 1e39, -1e39]))
    assert np.isnan(out[0]) and list(out[1:]) == [np.inf, -np.inf, np.inf, -np.inf]
    z = np.array([1 + 1 / 3 * 1j, 70000 - 2j])
    r = formats.FP16.round(z)
    assert r.dtype == np.complex64
    assert r[0] == np.complex64(complex(np.float16(1.0), np.float16(1 / 3)))
    assert np.isinf(r[1].real) and r[1].imag == -2
    assert formats.FP64.round(z).dtype == np.complex128


def test_precision_objects():
    names = [p.name for p in formats.BUILTIN]
    assert names == ["fp64", "fp32", "tf32", "bf16", "fp16", "fp16-scaled"]
    for p in formats.BUILTIN:
        assert isinstance(p, Precision) and p.role == "factorization"
    assert formats.FP16.unit_roundoff == 2.0**-11 and formats.BF16.unit_roundoff == 2.0**-8
    assert formats.FP16_SCALED.squeeze and formats.FP32.native and not formats.TF32.native
    assert formats.FP32.storage_for(np.dtype(np.complex128)) == np.complex64


class _FakeRegistry:
    def __init__(self, objs):
        self.objs = {o.name: o for o in objs}

    def lookup(self, kind, name):
        if name not in self.objs:
            raise HpcmixError(f"unknown precision '{name}'")
        return self.objs[name]

    def entries(self, kind):
        return [type("E", (), {"name": n, "obj": o}) for n, o in self.objs.items()]


def test_lookup_builtin_plugin_and_errors():
    assert formats.lookup("fp16-scaled") is formats.FP16_SCALED
    assert formats.lookup(formats.BF16) is formats.BF16
    e5m10 = formats.FactorizationPrecision("fp16-twin", description="test", significand_bits=11,
                                           max_value=65504.0, round_real=formats.FP16.round_real)
    single = Precision()
    single.name = "single"
    reg = _FakeRegistry([e5m10, single])
    assert formats.lookup("fp16-twin", reg) is e5m10
    assert "fp16-twin" in formats.names(reg) and "single" not in formats.names(reg)
    with pytest.raises(HpcmixError, match="unknown factorization precision 'single'; registered: fp64, .*fp16-twin$"):
        formats.lookup("single", reg)
    with pytest.raises(HpcmixError, match="unknown"):
        formats.lookup("fp8", reg)


def test_lookup_through_the_project_registry():
    with pytest.raises(HpcmixError, match="unknown factorization precision 'fp8'") as err:
        formats.lookup("fp8")
    assert "fp16-scaled" in str(err.value) and "half" not in str(err.value)


def test_squeeze_scales_exactly_into_range():
    from hpcmix.dense.squeeze import THETA, squeeze
    rng = np.random.default_rng(4)
    A = rng.standard_normal((30, 30)) * 10.0 ** rng.uniform(-6, 6, (30, 1)) * 10.0 ** rng.uniform(-6, 6, 30)
    A[4] = 0.0                                           # a zero row keeps scale 1
    As, r, s, mu = squeeze(A, 65504.0)
    for v in (*r, *s, mu):
        assert v == 2.0 ** np.round(np.log2(v))          # powers of two: exact scaling
    np.testing.assert_array_equal(As, mu * r[:, None] * A * s[None, :])
    assert r[4] == 1.0
    assert THETA * 65504 / 2 < np.abs(As).max() <= THETA * 65504
    rows = np.abs(As).max(axis=1)[np.arange(30) != 4] / mu
    assert rows.min() > 0.25 and rows.max() < 2 and np.abs(As).max(axis=0).min() / mu > 0.25
    Z, r, s, mu = squeeze(np.zeros((3, 3)), 65504.0)
    assert mu == 1.0 and not Z.any()
