"""Gauge compression (reconstruct 18, 12, 8) in every built-in precision.

Error bounds per link, with e = u + (2^-24 where arithmetic is float32) and delta the link's own
distance from SU(3) (max |U U^dag - 1|, |det U - 1|, a few 1e-16 for the generated links):

    18: max |U' - U| <= sqrt(2) e            12: <= 4 (e + delta)
    8:  <= 6 (e + delta) / kappa,  kappa = min(|V00|, |V20|, sqrt(|V01|^2 + |V02|^2)), V = U F

(kappa is the conditioning of the 8-parameter map, see hpcmix/precision/reconstruct.py).
"""

import numpy as np
import pytest
from mpi4py import MPI

from hpcmix.errors import HpcmixError
from hpcmix.fields.gauge import GaugeField
from hpcmix.fields.su3 import dagger, random_su3
from hpcmix.lattice import Lattice
from hpcmix.precision import DOUBLE, HALF, QUARTER, SINGLE, reconstruct as rc

BUILTIN = [DOUBLE, SINGLE, HALF, QUARTER]


@pytest.fixture(scope="module")
def links():
    lattice = Lattice([4, 4, 4, 4], comm=MPI.COMM_SELF)
    return {"random": GaugeField.random(lattice, seed=3).U,
            "weak": GaugeField.weak(lattice, seed=4, epsilon=0.2).U,
            "unit": GaugeField.unit(lattice).U}


def accuracy(prec):
    return prec.unit_roundoff + (2.0 ** -24 if prec.real_dtype == np.float32 else 0.0)


def su3_distance(U):
    eye = np.abs(U @ dagger(U) - np.eye(3)).max(axis=(-1, -2))
    return np.maximum(eye, np.abs(np.linalg.det(U) - 1))


def kappa8(U):
    V = U @ rc.TWIST
    n = np.sqrt(np.abs(V[..., 0, 1]) ** 2 + np.abs(V[..., 0, 2]) ** 2)
    return np.minimum(np.minimum(np.abs(V[..., 0, 0]), np.abs(V[..., 2, 0])), n)


@pytest.mark.parametrize("reconstruct", [18, 12, 8])
@pytest.mark.parametrize("kind", ["random", "weak", "unit"])
@pytest.mark.parametrize("prec", BUILTIN, ids=lambda p: p.name)
def test_reconstruction_error(links, prec, kind, reconstruct):
    U = links[kind]
    stored = prec.encode_links(U, reconstruct)
    assert stored.data.shape == U.shape[:-2] + (reconstruct,) and stored.data.dtype == prec.storage_dtype
    assert stored.norm is None and stored.nbytes == U[..., 0, 0].size * reconstruct * prec.bytes_per_real
    decoded = stored.decode()
    assert decoded.dtype == prec.compute_dtype and decoded.shape == U.shape
    err = np.abs(decoded - U).max(axis=(-1, -2))
    e, delta = accuracy(prec), su3_distance(U)
    bound = {18: np.sqrt(2) * e, 12: 4 * (e + delta), 8: 6 * (e + delta) / kappa8(U)}[reconstruct]
    assert (err <= bound).all(), (err / bound).max()


@pytest.mark.parametrize("prec", BUILTIN, ids=lambda p: p.name)
def test_reconstruct8_typical_accuracy(links, prec):
    """Most links come back to a few units of the precision's accuracy; unit links (singular untwisted) too."""
    for kind in ("random", "weak"):
        err = np.abs(prec.round_links(links[kind], 8) - links[kind]).max(axis=(-1, -2))
        assert np.median(err) <= 8 * accuracy(prec)
    assert np.abs(prec.round_links(links["unit"], 8) - links["unit"]).max() <= 4 * accuracy(prec)


def test_twist_is_su3():
    assert rc.su3_deviation(rc.TWIST) < 1e-15
    np.testing.assert_allclose(np.abs(rc.TWIST), 1 / np.sqrt(3), rtol=1e-15)


def test_parameters_in_unit_interval():
    U = random_su3(np.random.default_rng(8), (500,))
    for reconstruct in rc.RECONSTRUCTS:
        assert np.abs(rc.pack(U, reconstruct)).max() <= 1


@pytest.mark.parametrize("prec", BUILTIN, ids=lambda p: p.name)
def test_reconstruct8_singular_link_refused(links, prec):
    """The singular set of the twisted map: first row a phase times (1, 1, 1)/sqrt(3), U = D F^dag with D
    diagonal SU(3)."""
    U = links["random"].copy()
    U[1, 2, 3, 0, 2] = np.diag(np.exp([0.7j, -0.2j, -0.5j])) @ dagger(rc.TWIST)
    with pytest.raises(HpcmixError, match="reconstruct 8 is singular .* for 1 link.*use reconstruct 12 or 18"):
        prec.encode_links(U, 8)
    np.testing.assert_allclose(prec.round_links(U, 12), U, atol=4 * accuracy(prec) + 1e-15)


@pytest.mark.parametrize("prec", BUILTIN, ids=lambda p: p.name)
def test_compression_needs_su3(links, prec):
    """Links with a boundary phase baked in (det = -1) are refused by 12 and 8, stored by 18."""
    U = links["random"].copy()
    U[:, :, :, :, 3] *= -1
    for reconstruct in (12, 8):
        with pytest.raises(HpcmixError, match=f"reconstruct {reconstruct} needs SU\\(3\\) links"):
            prec.encode_links(U, reconstruct)
    assert np.abs(prec.round_links(U, 18) - U).max() <= np.sqrt(2) * accuracy(prec)


@pytest.mark.parametrize("prec", [HALF, QUARTER], ids=lambda p: p.name)
def test_fixed_point_links_need_unit_range(links, prec):
    fat = 1.5 * links["random"]
    with pytest.raises(HpcmixError, match=r"needs entries in \[-1, 1\].*site_ndim"):
        prec.encode_links(fat, 18)


def test_link_conversion(links):
    """Same reconstruct: parameters convert exactly upwards and come back bit for bit."""
    half = HALF.encode_links(links["random"], 8)
    double = half.to(DOUBLE)
    assert double.reconstruct == 8 and double.data.dtype == np.float64
    np.testing.assert_array_equal(double.data, HALF.decode_params(half.data))
    np.testing.assert_array_equal(double.to(HALF).data, half.data)
    np.testing.assert_allclose(double.decode(), half.decode(), atol=1e-4)
    # a new reconstruct goes through the links, which must be SU(3) to the target's accuracy
    single12 = SINGLE.encode_links(links["weak"], 18).to(DOUBLE, reconstruct=12)
    assert single12.reconstruct == 12 and np.abs(single12.decode() - links["weak"]).max() < 1e-6
    with pytest.raises(HpcmixError, match="needs SU\\(3\\) links"):
        HALF.encode_links(links["random"], 18).to(DOUBLE, reconstruct=12)
