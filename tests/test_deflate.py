"""Deflated even-odd CG: the low modes of Mhat^dag Mhat (TRLM) give a starting guess that cuts CG's
iterations on a light Wilson-clover system, to the same true residual of the full system (checked with
the canonical operator), in uniform and mixed precision, on every backend."""

import numpy as np
import pytest

from hpcmix.backends import load_backend
from hpcmix.fields.full import FullField
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.cg import CG
from hpcmix.precision import DOUBLE, HALF, SINGLE
from hpcmix.registry import get_registry
from hpcmix.solvers.deflate import Deflated, LowModes
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


def test_low_modes_correction_is_the_dense_projection(light, backend):
    """LowModes.correct adds V Lambda^-1 V^dag r, computed here densely from the exported vectors."""
    lattice, dirac, b = light
    f = dirac.on_backend(backend)
    eigen = TRLM(8, 24, tol=1e-8).solve(f.schur(0)[0].normal())
    sp = f.spaces[0]
    r = f.import_field(b)[0]
    x = sp.zeros_like(r)
    LowModes(eigen).correct(sp, r, x)
    zero = sp.zero(sp.new(eigen.vectors.precision))
    flat = [f.export_field(FullField(eigen.vectors[i], zero)).ravel() for i in range(8)]
    V = np.stack(flat, axis=1)
    even = f.export_field(FullField(r, zero)).ravel()
    expected = V @ ((V.conj().T @ even) / eigen.eigenvalues)
    got = f.export_field(FullField(x, zero)).ravel()
    assert np.abs(got - expected).max() <= 1e-10 * np.abs(expected).max()


class CountingModes(LowModes):
    calls = 0

    def correct(self, sp, r, x):
        CountingModes.calls += 1
        return super().correct(sp, r, x)


@pytest.mark.parametrize("redeflate", [True, False])
def test_reliable_updates_redeflate(light, redeflate, monkeypatch):
    """With re-deflation CG applies the correction at the reliable updates that leave the target unmet
    (and the guess once); without it only the guess; both reach the true residual."""
    lattice, dirac, b = light
    monkeypatch.setattr("hpcmix.solvers.deflate.LowModes", CountingModes)
    CountingModes.calls = 0
    f = dirac.on_backend(load_backend(get_registry(), "numpy"))
    eigen = TRLM(16, 32, tol=1e-8).solve(f.schur(0)[0].normal())
    res = EvenOdd(Deflated(CG(tol=1e-10, sloppy="half"), eigen, redeflate=redeflate))(f).solve(f.import_field(b))
    x = f.export_field(res.x)
    assert res.converged and np.sqrt(lattice.norm2(b - dirac.M(x)) / lattice.norm2(b)) <= 1e-10
    if redeflate:
        assert res.reliable_updates >= 3 and CountingModes.calls == res.reliable_updates      # the last one converged
    else:
        assert CountingModes.calls == 1


@pytest.mark.parametrize("precision, tol", [(SINGLE, 1e-5), (HALF, 1e-3)])
def test_eigenvectors_stored_below_the_solve(light, precision, tol):
    """Eigenvectors kept in single or half deflate a double-half solve as well as double ones do (to the
    same true residual, within an iteration or two)."""
    lattice, dirac, b = light
    f = dirac.on_backend(load_backend(get_registry(), "numpy"))
    counts = {}
    for name, prec, t in (("double", None, 1e-8), ("low", precision, tol)):
        eigen = TRLM(24, 40, tol=t, precision=prec).solve(f.schur(0)[0].normal())
        assert eigen.vectors.precision is (prec or DOUBLE)
        res = EvenOdd(Deflated(CG(tol=1e-10, sloppy="half"), eigen))(f).solve(f.import_field(b))
        x = f.export_field(res.x)
        assert res.converged and np.sqrt(lattice.norm2(b - dirac.M(x)) / lattice.norm2(b)) <= 1e-10
        counts[name] = res.iterations
    assert counts["low"] <= counts["double"] + 2, counts
