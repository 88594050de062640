"""Deflated even-odd CG: the low modes of Mhat^dag Mhat (TRLM) give a starting guess that cuts CG's
iterations on a light Wilson-clover system, to the same true residual of the full system (checked with
the canonical operator), in uniform and mixed precision, on every backend."""

import numpy as np
import pytest

from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.cg import CG
from hpcmix.solvers.deflate import Deflated
from hpcmix.solvers.trlm import TRLM


@pytest.fixture(scope="module")
def light():
    lattice = Lattice([4, 4, 4, 4])
    dirac = WilsonDirac(GaugeField.weak(lattice, 2, 0.4), -0.2, csw=1.0)        # close to critical: slow CG
    b = np.random.default_rng(3).standard_normal(lattice.shape + (4, 3)) + 0j
    return lattice, dirac, b


@pytest.mark.parametrize("sloppy", ["double", "half"])
def test_deflation_cuts_iterations(light, backend, sloppy):
    lattice, dirac, b = light
    f = dirac.on_backend(backend)
    eigen = TRLM(24, 40, tol=1e-8).solve(f.schur(0)[0].normal())
    plain = EvenOdd(CG(tol=1e-10, sloppy=sloppy))(f).solve(f.import_field(b))
    deflated = EvenOdd(Deflated(CG(tol=1e-10, sloppy=sloppy), eigen))(f).solve(f.import_field(b))
    for res in (plain, deflated):
        x = f.export_field(res.x)
        assert res.converged and np.sqrt(lattice.norm2(b - dirac.M(x)) / lattice.norm2(b)) <= 1e-10
    assert deflated.iterations * 1.3 <= plain.iterations, (plain.iterations, deflated.iterations)
    assert "deflated(" in deflated.solver
