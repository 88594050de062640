"""Staggered operators (naive, asqtad) against independent truth: the free-field propagator in momentum
space, anti-Hermiticity and the even-odd structure of D, the free-field fat and Naik links, gauge
covariance, the Goldstone pion from epsilon-hermiticity, and the even-odd and M^dag M solves."""

import numpy as np
import pytest

from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.asqtad_links import asqtad_coefficients
from hpcmix.operators.staggered import StaggeredDirac, staggered_phase
from hpcmix.solvers import EvenOdd, EvenOddNormal
from hpcmix.solvers.cg import CG
from hpcmix.stages.meson import pion_correlator
from hpcmix.stages.propagator import Propagator

from lattice_helpers import random_gauge_transform, random_spinor, weak_gauge

DIMS = (4, 4, 4, 8)
MILC_COEFFICIENTS = (0.625, -0.1653413, -0.2480119, 0.2460397, -0.1627221, -0.9841587)  # u0 = 0.502


def asqtad(gauge, mass=0.1, u0=0.9, boundary=(1, 1, 1, -1)):
    return StaggeredDirac(gauge, mass, boundary, asqtad_coefficients(u0))


def point_propagator(dirac, site=(0, 0, 0, 0), tol=1e-12):
    """S[t, z, y, x, color, source color] = M^-1 at ``site`` by even-odd CG."""
    lattice = dirac.lattice
    inverse = EvenOdd(CG(tol=tol, maxiter=5000))(dirac)
    data = lattice.zeros((3, 3))
    for a in range(3):
        b = lattice.zeros((3,))
        b[lattice.owns(list(site)) + (a,)] = 1.0
        data[..., a] = inverse(b)
    return Propagator(lattice, data, (3,), site[3], "asqtad", [])


def test_asqtad_coefficients_from_u0_are_milcs():
    np.testing.assert_allclose(asqtad_coefficients(0.502), MILC_COEFFICIENTS, rtol=5e-7)
    # the free-field sum rule: fat link 9/8, with the Naik term 9/8 - 3/24 = 1 at u0 = 1
    c1, cn, c3, c5, c7, cl = asqtad_coefficients(1.0)
    assert c1 - 6 * c3 + 24 * c5 - 48 * c7 + 6 * cl == pytest.approx(9 / 8)
    assert c1 - 6 * c3 + 24 * c5 - 48 * c7 + 6 * cl + 3 * cn == pytest.approx(1.0)


def test_milc_staggered_phases():
    lattice = Lattice(list(DIMS))
    x, y, z, t = (np.broadcast_to(lattice.coordinate(mu), lattice.shape) for mu in range(4))
    expected = [(-1.0) ** t, (-1.0) ** (t + x), (-1.0) ** (t + x + y), np.ones(lattice.shape)]
    for mu in range(4):
        assert np.array_equal(staggered_phase(lattice, mu), expected[mu])


def test_free_field_links_are_scaled_phased_links():
    """Unit gauge field: every fat-link path equals the phased one-link V_mu (the staple signs are
    those of a plaquette of phased links, -1), so W = (9/8) V at u0 = 1, and L = -(1/24) V V V."""
    lattice = Lattice(list(DIMS))
    gauge = GaugeField.unit(lattice)
    naive = StaggeredDirac(gauge, 0.1)
    d = asqtad(gauge, u0=1.0)
    for mu in range(4):
        v = naive.fat[mu]
        np.testing.assert_allclose(d.fat[mu], 9 / 8 * v, atol=1e-14)
        v3 = v @ lattice.shift(v, mu, 1) @ lattice.shift(v, mu, 2)
        np.testing.assert_allclose(d.long[mu], -v3 / 24, atol=1e-15)
    # the antiperiodic sign sits on the time links of the last time slice (and on the Naik links crossing it)
    last = (lattice.coordinate(3) == DIMS[3] - 1)[..., None, None]
    assert np.array_equal(naive.fat[3], np.broadcast_to(np.where(last, -1.0, 1.0) * np.eye(3), naive.fat[3].shape))


@pytest.mark.parametrize("kind", ["naive", "asqtad"])
def test_hopping_term_is_anti_hermitian_and_flips_parity(kind):
    gauge = GaugeField.random(Lattice(list(DIMS)), 11)
    d = StaggeredDirac(gauge, 0.1) if kind == "naive" else asqtad(gauge)
    lattice = d.lattice
    phi, psi = random_spinor(lattice, 1, (3,)), random_spinor(lattice, 2, (3,))
    lhs, rhs = lattice.inner(phi, d.hop(psi)), -lattice.inner(d.hop(phi), psi)
    assert abs(lhs - rhs) <= 1e-13 * abs(lhs)
    even = psi * d.parity_mask(0)
    assert np.abs(d.hop(even) * d.parity_mask(0)).max() == 0.0
    # M^dag = 2m - D is the adjoint of M = 2m + D
    op = d.operator()
    assert abs(lattice.inner(phi, op(psi)) - lattice.inner(op.adjoint()(phi), psi)) <= 1e-13 * abs(lhs)


def free_naive_propagator(dims, mass, boundary):
    """M^-1 at the origin for the unit gauge field, color-diagonal, from momentum space:
        M^-1(x; 0) = (1/V) sum_p e^{i p x} [2m - 2i sum_mu eta_mu(x) sin p_mu] / [4 m^2 + 4 sum_mu sin^2 p_mu],
    p_mu = (2 pi n + theta_mu) / L_mu for boundary phases b_mu = exp(i theta_mu): M^dag M = 4m^2 - D^2 with
    D^2 = sum_mu (T_mu - T_-mu)^2 (the eta phases make the cross terms cancel) is diagonal in momentum,
    and M^-1 = (2m - D)(M^dag M)^-1 with D e^{ipx} = sum_mu eta_mu(x) 2i sin p_mu e^{ipx}."""
    lattice = Lattice(list(dims))
    theta = [np.angle(b) for b in boundary]
    axes = [(2 * np.pi * np.arange(L) + th) / L for L, th in zip(dims, theta)]
    pt, pz, py, px = np.meshgrid(axes[3], axes[2], axes[1], axes[0], indexing="ij")
    mom = [px, py, pz, pt]
    den = 4 * mass ** 2 + 4 * sum(np.sin(p) ** 2 for p in mom)
    twist = np.exp(1j * sum(th / L * np.broadcast_to(lattice.coordinate(mu), lattice.shape)
                            for mu, (th, L) in enumerate(zip(theta, dims))))

    def transform(f):  # (1/V) sum_p e^{ipx} f(p), p shifted by theta/L
        return twist * np.fft.ifftn(f, axes=(0, 1, 2, 3))

    g = 2 * mass * transform(1 / den)
    for mu in range(4):
        g = g - 2j * staggered_phase(lattice, mu) * transform(np.sin(mom[mu]) / den)
    return g


def test_free_field_naive_propagator_matches_momentum_space():
    mass, boundary = 0.2, (1, 1, 1, -1)
    lattice = Lattice(list(DIMS))
    prop = point_propagator(StaggeredDirac(GaugeField.unit(lattice), mass, boundary))
    expected = free_naive_propagator(DIMS, mass, boundary)
    np.testing.assert_allclose(prop.data, expected[..., None, None] * np.eye(3), atol=1e-10 * np.abs(expected).max())


def test_fat_and_long_links_are_gauge_covariant_and_the_pion_is_invariant():
    gauge = weak_gauge(DIMS, seed=5, epsilon=0.3)
    lattice = gauge.lattice
    g = random_gauge_transform(lattice, 9)
    d, dg = asqtad(gauge), asqtad(gauge.gauge_transform(g))
    for mu in range(4):
        g_mu = lattice.shift(g, mu, 1)
        g_3mu = lattice.shift(lattice.shift(g_mu, mu, 1), mu, 1)
        np.testing.assert_allclose(dg.fat[mu], g @ d.fat[mu] @ np.conj(np.swapaxes(g_mu, -1, -2)), atol=1e-12)
        np.testing.assert_allclose(dg.long[mu], g @ d.long[mu] @ np.conj(np.swapaxes(g_3mu, -1, -2)), atol=1e-12)
    c, cg = pion_correlator(point_propagator(d)), pion_correlator(point_propagator(dg))
    np.testing.assert_allclose(cg, c, rtol=1e-10)


def test_meson_stage_gives_the_goldstone_pion():
    """With epsilon(x) = (-1)^(x+y+z+t) the Goldstone pion is C(t) = sum_x eps(x) eps(0) tr[G(x,0) G(0,x)];
    G(0,x) is taken from independent solves of M^dag y = delta_0, G(0,x)_ab = conj(y_a(x)_b). By
    epsilon-hermiticity (M^dag = eps M eps) it equals the meson stage's sum_x |G(x,0)|^2."""
    gauge = weak_gauge(DIMS, seed=6, epsilon=0.3)
    lattice = gauge.lattice
    d = asqtad(gauge, mass=0.15)
    site = (1, 2, 0, 3)
    forward = point_propagator(d, site)
    backward = lattice.zeros((3, 3))
    inverse_dag = CG(tol=1e-12, maxiter=5000)(d.operator().adjoint())
    for a in range(3):
        b = lattice.zeros((3,))
        b[lattice.owns(list(site)) + (a,)] = 1.0
        backward[..., a] = inverse_dag(b)
    eps = (-1.0) ** lattice.parity
    density = eps * (-1.0) ** sum(site) * np.einsum("...ba,...ba->...", forward.data, np.conj(backward))
    explicit = np.roll(density.sum(axis=(1, 2, 3)), -site[3])
    assert np.abs(explicit.imag).max() <= 1e-10 * np.abs(explicit).max()
    np.testing.assert_allclose(pion_correlator(forward), explicit.real, rtol=1e-9)


@pytest.mark.parametrize("kind", ["naive", "asqtad"])
def test_even_odd_solve_of_m(kind):
    gauge = weak_gauge(DIMS, seed=4, epsilon=0.3)
    d = StaggeredDirac(gauge, 0.1) if kind == "naive" else asqtad(gauge)
    lattice = d.lattice
    b = random_spinor(lattice, 3, (3,))
    res = EvenOdd(CG(tol=1e-10))(d).solve(b)
    assert res.converged and res.true_residual <= 1e-10
    r = b - d.M(res.x)
    assert np.sqrt(lattice.norm2(r) / lattice.norm2(b)) <= 1e-10
    schur = d.schur()[0]
    assert schur.hermitian
    x_e = b * d.parity_mask(0)
    assert np.abs(schur(x_e) * d.parity_mask(1)).max() == 0.0


def test_normal_solver_solves_mdagm_on_each_parity():
    gauge = weak_gauge(DIMS, seed=4, epsilon=0.3)
    d = asqtad(gauge)
    lattice = d.lattice
    b = random_spinor(lattice, 8, (3,))
    split = EvenOddNormal(CG(tol=1e-10), evenodd=True)(d).solve(b)
    whole = EvenOddNormal(CG(tol=1e-10), evenodd=False)(d).solve(b)
    for res in (split, whole):
        r = b - d.Mdag(d.M(res.x))
        assert res.converged and np.sqrt(lattice.norm2(r) / lattice.norm2(b)) == pytest.approx(res.true_residual)
        assert res.true_residual <= 1e-10
    assert split.restarts == 0 and split.solver == "evenodd(cg) on MdagM"
    np.testing.assert_allclose(split.x, whole.x, atol=1e-8 * np.abs(whole.x).max())
    assert EvenOddNormal(CG(tol=1e-10))(d)(b).shape == b.shape
