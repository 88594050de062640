"""Solver robustness and deck keys: BiCGstab's breakdown restarts (point source on the Wilson
operator), and the validation of tol, maxiter, an outer precision too coarse for tol, and GCR's
nested preconditioner. True residuals are recomputed here in double with the double operator."""

import math

import numpy as np
import pytest

from cli_helpers import SOLVER_BODY, write_deck
from hpcmix.deck import Deck
from hpcmix.errors import DeckError
from hpcmix.operators.base import LinearOperator
from hpcmix.operators.precision_view import store
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import DOUBLE
from hpcmix.registry import get_registry
from hpcmix.solvers import make_solver
from hpcmix.solvers.bicgstab import BiCGstab
from hpcmix.solvers.gcr import GCR
from hpcmix.solvers.mr import MR
from lattice_helpers import random_spinor, weak_gauge

TOL = 1e-10


def point_source(lattice):
    """1 at site 0, spin 0, colour 0."""
    b = lattice.zeros((4, 3))
    b[0, 0, 0, 0, 0, 0] = 1
    return b


# ---- BiCGstab breakdowns -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def wilson_point():
    """Unpreconditioned Wilson (no clover, no even-odd) and a point source: with r0 = b, <r0, r> = 0
    exactly after the first BiCGstab step (the spin projectors make A s vanish at the source site)."""
    gauge = weak_gauge()
    dirac = WilsonDirac(gauge, 0.1)
    return dirac, point_source(gauge.lattice)


@pytest.mark.parametrize("sloppy", ["same", "single"])
def test_bicgstab_restarts_after_breakdown(wilson_point, sloppy):
    """On a point source <r0, A r0> vanishes up to rounding (exactly, or ~1e-19 depending on the BLAS
    build): either way the solve meets tol in its sloppy precision without a fallback. (The restart
    itself is asserted on the genuine breakdown of the shift operator below.)"""
    dirac, b = wilson_point
    res = BiCGstab(tol=TOL, sloppy=sloppy)(dirac.operator()).solve(b)
    lat = dirac.lattice
    assert res.converged and math.sqrt(lat.norm2(b - dirac.M(res.x)) / lat.norm2(b)) <= TOL
    assert res.iterations > 10 and not res.fallbacks
    if sloppy == "single":
        assert res.sloppy == "single" and res.timings["single"] > 0


def shift_operator():
    """A x = x shifted by one site in x (unitary): for a point source b, <b, A b> = 0, so BiCGstab
    with r0 = r = b breaks down before its first iteration, and a restart from r0 = r = b again."""
    lattice = weak_gauge(dims=(4, 4, 4, 4)).lattice

    def make(precision, reconstruct=18):
        return LinearOperator(lattice, lambda x: store(precision, np.roll(store(precision, x), 1, axis=0)),
                              lambda x: store(precision, np.roll(store(precision, x), -1, axis=0)),
                              name=f"shift[{precision.name}]", precision=precision, reconstruct=reconstruct,
                              at=make)

    return make(DOUBLE), point_source(lattice)


def test_bicgstab_genuine_breakdown_stops():
    op, b = shift_operator()
    res = BiCGstab(tol=TOL)(op).solve(b)
    assert not res.converged and res.reason == "stopped: breakdown in precision 'double' right after a restart"
    assert res.iterations == 0 and res.restarts == 0 and not res.fallbacks


def test_mixed_bicgstab_genuine_breakdown_falls_back_then_stops():
    op, b = shift_operator()
    res = BiCGstab(tol=TOL, sloppy="single")(op).solve(b)
    assert not res.converged and res.iterations == 0
    assert [(f["from"], f["to"]) for f in res.fallbacks] == [("single", "double")]
    assert res.reason == "stopped: breakdown in precision 'double' right after a restart"


# ---- deck keys ---------------------------------------------------------------------------------
BODY = SOLVER_BODY


def load_solver(tmp_path, solver):
    """The validated solver table of a deck whose propagator stage has ``solver``."""
    deck = Deck.load(write_deck(tmp_path / "deck.toml", BODY.format(solver=solver)))
    return deck.stages[1].cfg["solver"]


BAD = {
    "mr_precision": ('{ kind = "mr", precision = "half" }', "solver.precision",
                     ["solver 'mr' works in its operator's precision", "precision_preconditioner"]),
    "mr_bogus": ('{ kind = "mr", precision = "bogus" }', "solver.precision", ["operator's precision"]),
    "tol_negative": ('{ kind = "bicgstab", tol = -1.0 }', "solver.tol", ["finite number > 0", "-1.0"]),
    "tol_zero": ('{ kind = "cg", tol = 0.0 }', "solver.tol", ["finite number > 0"]),
    "tol_nan": ('{ kind = "gcr", tol = nan }', "solver.tol", ["finite number > 0", "nan"]),
    "tol_inf": ('{ kind = "mr", tol = inf }', "solver.tol", ["finite number > 0"]),
    "maxiter_zero": ('{ kind = "cg", maxiter = 0 }', "solver.maxiter", [">= 1"]),
    "maxiter_nested": ('{ kind = "gcr", preconditioner = { kind = "mr", maxiter = -3 } }',
                       "solver.preconditioner.maxiter", [">= 1"]),
    "half_outer": ('{ kind = "cg", precision = "half", sloppy = "half" }', "solver.tol",
                   ["precision 'half'", "unit roundoff", "1.53e-05", "tol >= 0.000153"]),
    "single_outer": ('{ kind = "bicgstab", precision = "single", tol = 1e-7 }', "solver.tol",
                     ["precision 'single'", "5.96e-08"]),
    "preconditioner_typo": ('{ kind = "gcr", preconditioner = "nonee" }', "solver.preconditioner",
                            ["expected 'none' or a solver", "mr", "'nonee'"]),
    "preconditioner_type": ('{ kind = "gcr", preconditioner = 3 }', "solver.preconditioner",
                            ["or string, got int 3"]),
    "preconditioner_key": ('{ kind = "gcr", preconditioner = { kind = "mr", omga = 1.0 } }',
                           "solver.preconditioner.omga", ["unknown key", "omega"]),
    "preconditioner_kind": ('{ kind = "gcr", preconditioner = { kind = "mrr" } }', "solver.preconditioner.kind",
                            ["unknown solver 'mrr'"]),
    "preconditioner_precision": ('{ kind = "gcr", preconditioner = { kind = "cg", sloppy = "x" } }',
                                 "solver.preconditioner.sloppy", ["unknown precision 'x'"]),
    "preconditioner_nested": ('{ kind = "gcr", preconditioner = { kind = "gcr", preconditioner = '
                              '{ kind = "mr", omga = 1.0 } } }', "solver.preconditioner.preconditioner.omga",
                              ["unknown key"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_solver_keys(tmp_path, case):
    solver, key, pieces = BAD[case]
    with pytest.raises(DeckError) as info:
        load_solver(tmp_path, solver)
    assert info.value.stage == "prop" and info.value.key == key, str(info.value)
    for piece in pieces:
        assert piece in info.value.reason, (piece, info.value.reason)


def test_coarse_outer_precision_with_a_tol_it_resolves(tmp_path):
    cfg = load_solver(tmp_path, '{ kind = "cg", precision = "half", sloppy = "half", tol = 2e-4 }')
    assert cfg["precision"] == "half" and cfg["tol"] == 2e-4


@pytest.mark.parametrize("preconditioner,expected", [
    ('"none"', None), ('"mr"', {"maxiter": 10000, "omega": 1.0}),
    ('{ kind = "mr", maxiter = 4, omega = 0.9 }', {"maxiter": 4, "omega": 0.9})])
def test_gcr_preconditioner_in_the_deck(tmp_path, preconditioner, expected):
    """'none', a solver's name, or a table: validated with defaults filled in, and built by make_solver."""
    cfg = load_solver(tmp_path, f'{{ kind = "gcr", preconditioner = {preconditioner} }}')
    gcr = make_solver(get_registry(), cfg)
    if expected is None:
        assert cfg["preconditioner"] == "none" and gcr.preconditioner is None
        return
    assert cfg["preconditioner"] == dict(kind="mr", tol=1e-10, precision="double", **expected)
    assert isinstance(gcr.preconditioner, MR)
    assert (gcr.preconditioner.maxiter, gcr.preconditioner.omega) == (expected["maxiter"], expected["omega"])


def test_gcr_rejects_a_string_preconditioner():
    with pytest.raises(TypeError, match="preconditioner must be a solver or None"):
        GCR(preconditioner="nonee")


def test_a_plain_solver_reports_its_operators_precision():
    """MR has no precision of its own: on an operator stored in half it reports half (as a GCR
    preconditioner with precision_preconditioner = half runs it)."""
    from hpcmix.operators.wilson import WilsonDirac
    from hpcmix.precision import HALF
    from hpcmix.solvers.mr import MR
    from lattice_helpers import random_spinor, weak_gauge
    gauge = weak_gauge()
    dirac = WilsonDirac(gauge, 0.2)
    b = random_spinor(gauge.lattice, 1)
    res = MR(tol=1e-2, maxiter=50)(dirac.operator(HALF)).solve(b)
    assert res.precision == res.sloppy == "half" and set(res.timings) == {"half"}
    assert MR(tol=1e-2)(dirac.operator()).solve(b).precision == "double"


# ---- stagnation ----------------------------------------------------------------------------------
def circle_operator(center):
    """A x = d x with the eigenvalues d on the unit circle around ``center``: around 0 no Krylov method
    can make progress (BiCGstab wanders, restarted GCR stalls); around 1.005 they converge slowly."""
    lattice = weak_gauge(dims=(4, 4, 4, 4)).lattice
    n = lattice.volume * 12
    d = (center + np.exp(2j * np.pi * (np.arange(n) + 0.5) / n)).reshape(lattice.shape + (4, 3))

    def make(precision, reconstruct=18):
        return LinearOperator(lattice, lambda x: store(precision, d * store(precision, x)),
                              lambda x: store(precision, np.conj(d) * store(precision, x)),
                              name=f"circle[{precision.name}]", precision=precision, reconstruct=reconstruct,
                              at=make)

    return make(DOUBLE), random_spinor(lattice, 1)


@pytest.mark.parametrize("solver", [BiCGstab, GCR])
def test_stagnation_stops_the_solve_early(solver):
    op, b = circle_operator(0.0)
    res = solver(tol=TOL, maxiter=3000)(op).solve(b)
    assert not res.converged and res.iterations < 1000, (res.iterations, res.reason)
    assert res.reason.startswith("stopped: stagnation") and "stagnation_window = 500" in res.reason, res.reason
    assert solver(tol=TOL, maxiter=3000, stagnation_window=0)(op).solve(b).iterations == 3000


@pytest.mark.parametrize("solver", [BiCGstab, GCR])
def test_slow_convergence_is_not_stagnation(solver):
    op, b = circle_operator(1.005)
    res = solver(tol=TOL)(op).solve(b)
    assert res.converged and res.iterations > 1000, (res.iterations, res.reason)
