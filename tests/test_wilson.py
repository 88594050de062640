"""Wilson and Wilson-clover operators against independent truth: the free-field propagator in
momentum space, gamma5-hermiticity, the clover term's symmetries and gauge covariance."""

import numpy as np
import pytest

from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.gamma import GAMMA, GAMMA5
from hpcmix.operators.wilson import WilsonDirac, clover_matrix, mass_to_kappa, kappa_to_mass
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.bicgstab import BiCGstab
from hpcmix.solvers.cg import CG
from hpcmix.stages.meson import pion_correlator
from hpcmix.stages.propagator import Propagator

from lattice_helpers import random_gauge_transform, random_spinor, weak_gauge


def free_propagator(dims, mass, boundary):
    """S(x; 0) = (1/V) sum_p e^{i p x} M(p)^-1 with M(p) = (4 + m) - sum cos p + i sum g_mu sin p,
    p_mu = (2 pi n + theta_mu) / L_mu where boundary phase b_mu = exp(i theta_mu)."""
    X, Y, Z, T = dims
    theta = [np.angle(b) for b in boundary]
    p = [(2 * np.pi * np.arange(L) + th) / L for L, th in zip(dims, theta)]
    pt, pz, py, px = np.meshgrid(p[3], p[2], p[1], p[0], indexing="ij")
    mom = [px, py, pz, pt]
    mp = np.zeros((T, Z, Y, X, 4, 4), dtype=complex)
    mp += (4 + mass - sum(np.cos(k) for k in mom))[..., None, None] * np.eye(4)
    for mu in range(4):
        mp += 1j * np.sin(mom[mu])[..., None, None] * GAMMA[mu]
    minv = np.linalg.inv(mp)
    t, z, y, x = np.meshgrid(*(np.arange(L) for L in (T, Z, Y, X)), indexing="ij")
    phase_x = [x, y, z, t]
    s = np.zeros((T, Z, Y, X, 4, 4), dtype=complex)
    for idx in np.ndindex(T, Z, Y, X):
        pdotx = sum(mom[mu][idx] * phase_x[mu] for mu in range(4))
        s += np.exp(1j * pdotx)[..., None, None] * minv[idx]
    return s / np.prod(dims)


def test_kappa_mass_relation():
    assert mass_to_kappa(0.1) == pytest.approx(1 / 8.2)
    assert kappa_to_mass(mass_to_kappa(-0.3)) == pytest.approx(-0.3)


def check_free_field_propagator(boundary, solve):
    """``solve(dirac, b)`` (a solve record whose x is a canonical array) of the free Wilson operator on 4^4
    gives the momentum-space propagator, colour diagonal."""
    dims, mass = [4, 4, 4, 4], 0.2
    lattice = Lattice(dims)
    dirac = WilsonDirac(GaugeField.unit(lattice), mass, boundary)
    exact = free_propagator(dims, mass, boundary)
    for s0 in range(4):
        b = lattice.zeros((4, 3))
        b[0, 0, 0, 0, s0, 1] = 1.0
        res = solve(dirac, b)
        assert res.converged and res.true_residual <= 1e-13
        np.testing.assert_allclose(res.x[..., :, 1], exact[..., :, s0], atol=1e-10, rtol=0)
        assert np.abs(res.x[..., :, [0, 2]]).max() < 1e-12  # color diagonal


@pytest.mark.parametrize("boundary", [(1, 1, 1, -1), (1, 1, 1, 1)])
def test_free_field_propagator_matches_momentum_space(boundary):
    check_free_field_propagator(boundary, lambda dirac, b: EvenOdd(CG(tol=1e-13, maxiter=2000))(dirac).solve(b))


@pytest.mark.parametrize("boundary", [(1, 1, 1, -1), (1, 1, 1, 1)])
def test_free_field_propagator_on_backend_fields(backend, boundary):
    """The same with the even-odd solve on the backend's fields (b and x converted at the boundary, as the
    propagator stage does)."""
    def solve(dirac, b):
        fields = dirac.on_backend(backend)
        res = EvenOdd(CG(tol=1e-13, maxiter=2000))(fields).solve(fields.import_field(b))
        res.x = fields.export_field(res.x)
        return res

    check_free_field_propagator(boundary, solve)


@pytest.mark.parametrize("csw", [0.0, 1.3])
def test_gamma5_hermiticity(csw):
    gauge = weak_gauge()
    dirac = WilsonDirac(gauge, -0.2, csw=csw, clover=csw != 0)
    lat = gauge.lattice
    x, y = random_spinor(lat, 1), random_spinor(lat, 2)
    g5 = lambda v: np.einsum("st,...tc->...sc", GAMMA5, v)  # noqa: E731
    # <y, M x> = <g5 M g5 y, x>
    lhs = lat.inner(y, dirac.M(x))
    rhs = lat.inner(g5(dirac.M(g5(y))), x)
    assert abs(lhs - rhs) < 1e-11 * abs(lhs)
    assert abs(lat.inner(y, dirac.M(x)) - np.conj(lat.inner(x, dirac.Mdag(y)))) < 1e-11 * abs(lhs)


def test_clover_term_hermitian_commutes_with_gamma5_and_vanishes_at_csw_zero():
    gauge = weak_gauge(epsilon=0.5)
    lat = gauge.lattice
    from hpcmix.operators.wilson import phased_links
    links = phased_links(gauge, (1, 1, 1, -1))
    a = clover_matrix(lat, links, 1.7, 0.0)
    assert np.abs(a).max() > 0.1
    np.testing.assert_allclose(a, np.conj(np.swapaxes(a, -1, -2)), atol=1e-14)
    g5 = np.kron(GAMMA5, np.eye(3))
    np.testing.assert_allclose(a @ g5, g5 @ a, atol=1e-14)
    np.testing.assert_allclose(a[..., :6, 6:], 0, atol=1e-14)  # chirally block diagonal
    np.testing.assert_allclose(clover_matrix(lat, links, 0.0, 0.0), 0, atol=0)
    # linear in c_sw
    np.testing.assert_allclose(clover_matrix(lat, links, 2 * 1.7, 0.0), 2 * a, atol=1e-13)


def test_clover_vanishes_on_unit_field_and_csw0_equals_wilson():
    gauge = weak_gauge()
    lat = gauge.lattice
    unit = GaugeField.unit(lat)
    c = clover_matrix(lat, [unit.U[..., mu, :, :] for mu in range(4)], 1.0, 0.0)
    assert np.abs(c).max() < 1e-15
    wilson = WilsonDirac(gauge, 0.05)
    clover0 = WilsonDirac(gauge, 0.05, csw=0.0, clover=True)
    assert clover0.clover is not None
    x = random_spinor(lat, 4)
    np.testing.assert_allclose(clover0.M(x), wilson.M(x), atol=1e-13)
    b = random_spinor(lat, 5)
    xw = EvenOdd(CG(tol=1e-11))(wilson)(b)
    xc = EvenOdd(CG(tol=1e-11))(clover0)(b)
    np.testing.assert_allclose(xc, xw, atol=1e-9)


@pytest.mark.parametrize("csw", [0.0, 1.0])
def test_even_odd_and_unpreconditioned_solves_agree(csw):
    gauge = weak_gauge()
    dirac = WilsonDirac(gauge, 0.1, csw=csw)
    b = random_spinor(gauge.lattice, 9)
    full = BiCGstab(tol=1e-12)(dirac.operator()).solve(b)
    eo = EvenOdd(CG(tol=1e-12))(dirac).solve(b)
    assert full.converged and eo.converged
    assert eo.iterations < full.iterations * 2  # the Schur system is better conditioned
    np.testing.assert_allclose(eo.x, full.x, atol=1e-9 * np.abs(full.x).max())
    r = b - dirac.M(eo.x)
    assert np.sqrt(gauge.lattice.norm2(r) / gauge.lattice.norm2(b)) <= 1e-12


def point_propagator(dirac, lattice, site=(0, 0, 0, 0), tol=1e-12):
    data = np.empty(lattice.shape + (4, 3, 4, 3), dtype=complex)
    inverse = EvenOdd(CG(tol=tol))(dirac)
    for s in range(4):
        for c in range(3):
            b = lattice.zeros((4, 3))
            loc = lattice.owns(list(site))
            if loc is not None:
                b[loc + (s, c)] = 1
            data[..., s, c] = inverse(b)
    return Propagator(lattice, data, (4, 3), site[3], "wilson_clover", [])


def test_gauge_covariance_of_pion_correlator():
    gauge = weak_gauge(dims=(4, 4, 4, 4), epsilon=0.4)
    lat = gauge.lattice
    g = random_gauge_transform(lat)
    transformed = gauge.gauge_transform(g)
    assert abs(transformed.plaquette() - gauge.plaquette()) < 1e-13
    assert np.abs(transformed.U - gauge.U).max() > 0.1
    c1 = pion_correlator(point_propagator(WilsonDirac(gauge, 0.1, csw=1.0), lat))
    c2 = pion_correlator(point_propagator(WilsonDirac(transformed, 0.1, csw=1.0), lat))
    np.testing.assert_allclose(c2, c1, rtol=1e-10)
