"""``hpcmix bench spectrum``'s low spectrum against the free field's, known in closed form: with unit links the
Wilson operator is diagonal in momentum, M(p) = m + sum_mu (1 - cos p_mu) + i sum_mu gamma_mu sin p_mu, normal,
with eigenvalues m + sum_mu (1 - cos p_mu) +- i sqrt(sum_mu sin^2 p_mu); periodic in space (p = 2 pi n / L) and
antiperiodic in time (p_t = pi (2 n + 1) / T). On 4^4 at m = 0.1 both the eigenvalue of smallest real part and
the smallest |lambda| (= sigma_min, M being normal) sit at p = (0, 0, 0, pi / 4)."""

import numpy as np
import pytest

from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac

from mpi_helpers import benchmark


def test_low_spectrum_of_the_free_wilson_operator():
    pytest.importorskip("scipy")
    mass = 0.1
    dirac = WilsonDirac(GaugeField.unit(Lattice([4, 4, 4, 4])), mass, (1, 1, 1, -1))
    bench = benchmark("spectrum")
    lam, sigma = bench.lowest_eigenvalue(dirac), bench.sigma_min(dirac)
    p_t = np.pi / 4
    expected = complex(mass + 1 - np.cos(p_t), np.sin(p_t))
    assert lam.real == pytest.approx(expected.real, abs=1e-6) and abs(lam.imag) == pytest.approx(expected.imag, abs=1e-6)
    assert sigma == pytest.approx(abs(expected), abs=1e-6)
    heavier = WilsonDirac(GaugeField.unit(Lattice([4, 4, 4, 4])), mass + 0.2, (1, 1, 1, -1))
    assert bench.lowest_eigenvalue(heavier).real == pytest.approx(lam.real + 0.2, abs=1e-6)   # the shift main uses
