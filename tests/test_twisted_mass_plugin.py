"""The out-of-tree operator plugin plugins/hpcmix-twisted-mass: its operator against the analytic free
propagator and gamma5-hermiticity, and, installed with pip, listed by `hpcmix plugins` and run in a deck."""

import importlib.util
import os
import sys

import h5py
import numpy as np

from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.gamma import GAMMA, GAMMA5
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.bicgstab import BiCGstab
from hpcmix.solvers.cg import CG

from cli_helpers import GOOD_BODY, hpcmix, write_deck
from lattice_helpers import random_spinor, weak_gauge
from plugin_helpers import PLUGINS, pip_install_copy

sys.path.insert(0, str(PLUGINS / "hpcmix-twisted-mass"))
from hpcmix_twisted_mass.operator import TwistedMassDirac  # noqa: E402


def test_free_twisted_mass_propagator_matches_momentum_space():
    """M(p) = (4 + m) - sum cos p + i sum g_mu sin p + i mu g5; S(x; 0) = (1/V) sum_p e^{ipx} M(p)^-1."""
    dims, mass, mu = [4, 4, 4, 4], 0.1, 0.3
    lattice = Lattice(dims)
    dirac = TwistedMassDirac(GaugeField.unit(lattice), mass, mu)
    p = [(2 * np.pi * np.arange(4) + (np.pi if d == 3 else 0)) / 4 for d in range(4)]
    b = lattice.zeros((4, 3))
    b[0, 0, 0, 0, 2, 0] = 1
    x = EvenOdd(CG(tol=1e-13))(dirac)(b)
    for site in [(0, 0, 0, 0), (1, 2, 3, 1), (3, 0, 1, 2)]:  # (x, y, z, t)
        s = np.zeros((4, 4), complex)
        for k in np.ndindex(4, 4, 4, 4):
            mom = [p[d][k[d]] for d in range(4)]
            mp = (4 + mass - sum(np.cos(mom))) * np.eye(4) + 1j * mu * GAMMA5
            mp = mp + 1j * sum(np.sin(mom[d]) * GAMMA[d] for d in range(4))
            s += np.exp(1j * np.dot(mom, site)) * np.linalg.inv(mp)
        np.testing.assert_allclose(x[site[::-1]][:, 0], s[:, 2] / 256, atol=1e-10)


def test_adjoint_is_gamma5_m_minus_mu_gamma5():
    gauge = weak_gauge()
    lat = gauge.lattice
    plus, minus = TwistedMassDirac(gauge, 0.05, 0.2, csw=1.0), TwistedMassDirac(gauge, 0.05, -0.2, csw=1.0)
    x, y = random_spinor(lat, 1), random_spinor(lat, 2)
    g5 = lambda v: np.einsum("st,...tc->...sc", GAMMA5, v)  # noqa: E731
    np.testing.assert_allclose(plus.Mdag(y), g5(minus.M(g5(y))), atol=1e-12)
    assert abs(lat.inner(y, plus.M(x)) - np.conj(lat.inner(x, plus.Mdag(y)))) < 1e-10
    b = random_spinor(lat, 3)
    eo = EvenOdd(CG(tol=1e-11))(plus).solve(b)
    full = BiCGstab(tol=1e-11)(plus.operator()).solve(b)
    assert eo.converged and full.converged
    np.testing.assert_allclose(eo.x, full.x, atol=1e-8)


def test_zero_twist_is_wilson():
    gauge = weak_gauge()
    x = random_spinor(gauge.lattice, 4)
    np.testing.assert_allclose(TwistedMassDirac(gauge, 0.1, 0.0).M(x), WilsonDirac(gauge, 0.1).M(x), atol=1e-13)


def test_pip_installed_plugin_is_listed_and_runs_in_a_deck(tmp_path):
    site = pip_install_copy("hpcmix-twisted-mass", tmp_path)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    listing = hpcmix("plugins", env=env)
    assert listing.returncode == 0, listing.stderr
    line = [ln for ln in listing.stdout.splitlines() if ln.strip().startswith("twisted_mass")]
    assert line and "hpcmix-twisted-mass 0.1.0 (entry point)" in line[0], listing.stdout
    if importlib.util.find_spec("hpcmix_twisted_mass") is None:     # not installed here: not listed
        assert "twisted_mass" not in hpcmix("plugins").stdout
    runs = {}
    for name, op in [("tm0", 'kind = "twisted_mass", kappa = 0.11, mu = 0.0, csw = 1.0'),
                     ("wc", 'kind = "wilson_clover", kappa = 0.11, csw = 1.0'),
                     ("tm", 'kind = "twisted_mass", kappa = 0.11, mu = 0.05, csw = 1.0')]:
        body = GOOD_BODY.replace('kind = "wilson_clover", kappa = 0.11, csw = 1.0', op)
        deck = write_deck(tmp_path / f"{name}.toml", body, output=f"{name}.h5")
        result = hpcmix("run", deck, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        with h5py.File(tmp_path / f"{name}.h5") as h5:
            runs[name] = h5["pion/correlator"][:]
            assert h5["prop"].attrs["converged"]
    np.testing.assert_allclose(runs["tm0"], runs["wc"], rtol=1e-8)
    assert np.abs(runs["tm"] - runs["wc"]).max() > 1e-4 * np.abs(runs["wc"]).max()
    assert np.all(runs["tm"] < runs["wc"])  # a twisted mass makes the pion heavier
