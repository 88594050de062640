"""Field precisions: attributes, round-trip error bounds, conversion, the registry and resolve()."""

import numpy as np
import pluggy
import pytest

from hpcmix import hookspecs
from hpcmix.errors import HpcmixError
from hpcmix.hookspecs import hookimpl
from hpcmix.precision import (DOUBLE, HALF, QUARTER, SINGLE, FieldPrecision, Precision, Stored, resolve,
                              to_precision)
from hpcmix.precision import plugin as builtin_plugin
from hpcmix.registry import Registry

BUILTIN = [DOUBLE, SINGLE, HALF, QUARTER]


def registry(*plugins):
    """A registry over a pluggy manager holding only ``plugins`` (the other built-in areas may not exist)."""
    pm = pluggy.PluginManager("hpcmix")
    pm.add_hookspecs(hookspecs)
    for plugin in plugins:
        pm.register(plugin)
    return Registry(pm)


def random_field(rng, inner, sites=(2, 2, 2, 4)):
    """Complex field whose site norms span 1e-6..1e6 and whose components span 1e-3 within a site."""
    shape = sites + inner
    x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    x *= 10.0 ** rng.uniform(-3, 0, shape)
    return x * 10.0 ** rng.uniform(-6, 6, sites + (1,) * len(inner))


def reals(x):
    return np.stack([x.real, x.imag], axis=-1).astype(np.float64)


def site_norm(x, site_ndim=4):
    r = np.abs(reals(x))
    return r.max(axis=tuple(range(site_ndim, r.ndim)), keepdims=True)


def round_trip_bound(prec, x):
    """The per-real bound stated in each precision's module docstring."""
    v, s = np.abs(reals(x)), site_norm(x)
    if prec is DOUBLE:
        return np.zeros_like(v)
    if prec is SINGLE:
        return 2.0 ** -24 * v
    return s * (prec.unit_roundoff + 2.0 ** -23 + 2.0 ** -50)


@pytest.mark.parametrize("prec, storage, norm, real, nbytes, u", [
    (DOUBLE, np.float64, None, np.float64, 8, 2.0 ** -53),
    (SINGLE, np.float32, None, np.float32, 4, 2.0 ** -24),
    (HALF, np.int16, np.float32, np.float32, 2, 1 / 65534),
    (QUARTER, np.int8, np.float32, np.float32, 1, 1 / 254),
])
def test_attributes(prec, storage, norm, real, nbytes, u):
    assert isinstance(prec, FieldPrecision) and isinstance(prec, Precision) and prec.role == "field"
    assert prec.storage_dtype == storage and prec.real_dtype == real
    assert prec.norm_dtype == (None if norm is None else np.dtype(norm)) and prec.has_norm == (norm is not None)
    assert prec.compute_dtype == np.result_type(real, np.complex64)
    assert prec.bytes_per_real == nbytes and prec.unit_roundoff == u
    assert prec.reconstructs == (18, 12, 8)


@pytest.mark.parametrize("inner", [(4, 3), (3,)], ids=["wilson", "staggered"])
@pytest.mark.parametrize("prec", BUILTIN, ids=lambda p: p.name)
def test_round_trip_bound(prec, inner):
    x = random_field(np.random.default_rng(1), inner)
    stored = prec.encode(x)
    decoded = stored.decode()
    assert decoded.dtype == prec.compute_dtype and decoded.shape == x.shape == stored.shape
    assert stored.data.dtype == prec.storage_dtype and stored.data.shape == x.shape + (2,)
    if prec.has_norm:
        assert stored.norm.dtype == prec.norm_dtype and stored.norm.shape == x.shape[:4]
    err = np.abs(reals(decoded) - reals(x))
    assert (err <= round_trip_bound(prec, x)).all()
    if prec.has_norm:  # the bound is attained: the error is a rounding step of the site's scale
        assert (err / site_norm(x)).max() > 0.95 * prec.unit_roundoff


@pytest.mark.parametrize("prec", [HALF, QUARTER], ids=lambda p: p.name)
def test_fixed_point_format(prec):
    """q = round(v M / s), norm = s / M in float32, zero sites stay zero."""
    x = random_field(np.random.default_rng(2), (4, 3))
    x[0, 0, 0, 0] = 0
    stored = prec.encode(x)
    M, s = prec.scale, site_norm(x)[..., 0, 0, 0]
    np.testing.assert_array_equal(stored.data, np.rint(reals(x) * (M / np.where(s > 0, s, 1))[..., None, None, None]))
    np.testing.assert_array_equal(stored.norm, (s / M).astype(np.float32))
    assert np.abs(stored.data).max() == M
    assert not stored.decode()[0, 0, 0, 0].any()


@pytest.mark.parametrize("prec, per_site", [(DOUBLE, 192), (SINGLE, 96), (HALF, 52), (QUARTER, 28)],
                         ids=lambda v: getattr(v, "name", str(v)))
def test_nbytes(prec, per_site):
    x = random_field(np.random.default_rng(3), (4, 3))
    assert prec.encode(x).nbytes == per_site * 32


def test_conversion_between_precisions():
    x = random_field(np.random.default_rng(4), (4, 3))
    half = HALF.encode(x)
    up = half.to(DOUBLE)
    assert up.precision is DOUBLE and up.data.dtype == np.float64
    np.testing.assert_array_equal(up.decode(), half.decode())          # widening is exact
    again = up.to(HALF)
    np.testing.assert_array_equal(again.data, half.data)                # and comes back bit for bit
    np.testing.assert_array_equal(again.norm, half.norm)
    down = DOUBLE.encode(x).to(QUARTER)
    np.testing.assert_array_equal(down.data, QUARTER.encode(x).data)
    np.testing.assert_array_equal(to_precision(x, HALF), half.decode())
    np.testing.assert_array_equal(HALF.round(x), half.decode())


def test_site_axes():
    """site_ndim picks what a norm covers: one per link of a [t, z, y, x, mu, 3, 3] array with site_ndim=5."""
    fat = random_field(np.random.default_rng(5), (4, 3, 3))
    stored = HALF.encode(fat, site_ndim=5)
    assert stored.norm.shape == fat.shape[:5]
    s = site_norm(fat, site_ndim=5)
    assert (np.abs(reals(stored.decode()) - reals(fat)) <= s * (HALF.unit_roundoff + 2.0 ** -22)).all()
    with pytest.raises(ValueError):
        HALF.encode(fat, site_ndim=8)


@pytest.mark.parametrize("prec", [HALF, QUARTER], ids=lambda p: p.name)
def test_non_finite_field_refused(prec):
    x = random_field(np.random.default_rng(6), (3,))
    x[1, 0, 0, 0, 2] = np.nan
    with pytest.raises(HpcmixError, match="non-finite"):
        prec.encode(x)


def test_stored_repr_and_container():
    stored = HALF.encode(random_field(np.random.default_rng(7), (3,)))
    assert isinstance(stored, Stored) and "half" in repr(stored) and "bytes" in repr(stored)


class _Extra:
    """A plugin with a factorization precision and a field precision that cannot compress links."""

    class _Factorization(Precision):
        name, role = "tf32", "factorization"

    class _Full(type(DOUBLE)):
        reconstructs = (18,)

    @hookimpl
    def precisions(self):
        return [self._Factorization(), self._Full("full-only", np.float64, "test")]


def test_registry_and_resolve():
    reg = registry(builtin_plugin)
    assert reg.names("precisions") == ["double", "half", "quarter", "single"]
    for prec in BUILTIN:
        assert resolve(reg, prec.name) is prec
        assert resolve(reg, prec.name, reconstruct=8) is prec
    listed = "unknown precision 'float8'; field precisions: double, half, quarter, single"
    with pytest.raises(HpcmixError, match=listed):
        resolve(reg, "float8")
    with pytest.raises(HpcmixError, match="reconstruct 9; it supports reconstruct 18, 12, 8"):
        resolve(reg, "half", reconstruct=9)


def test_resolve_roles_and_reconstructs():
    reg = registry(builtin_plugin, _Extra())
    with pytest.raises(HpcmixError, match="not a field precision 'tf32'; field precisions: double, full-only, half"):
        resolve(reg, "tf32")
    assert resolve(reg, "full-only", reconstruct=18).name == "full-only"
    only_18 = "'full-only' cannot store links with reconstruct 12; it supports reconstruct 18$"
    with pytest.raises(HpcmixError, match=only_18):
        resolve(reg, "full-only", reconstruct=12)
