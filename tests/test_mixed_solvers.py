"""Mixed-precision solvers: reliable-update CG and BiCGstab, GCR with sloppy cycles, restarted defect
correction, and the precision fallback chain. Every solve's true residual is recomputed here in double
with the double operator."""

import json

import numpy as np
import pytest

from hpcmix.operators.base import LinearOperator
from hpcmix.operators.precision_view import store
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import DOUBLE, HALF, SINGLE
from hpcmix.lattice import Lattice
from hpcmix.solvers import EvenOdd, EvenOddNormal
from hpcmix.solvers.bicgstab import BiCGstab
from hpcmix.solvers.cg import CG
from hpcmix.solvers.defect_correction import DefectCorrection
from hpcmix.solvers.gcr import GCR
from hpcmix.solvers.precisions import resolve_precisions
from hpcmix.solvers.mr import MR
from hpcmix.registry import Registry, make_plugin_manager
from lattice_helpers import random_spinor, weak_gauge

TOL = 1e-10


@pytest.fixture(scope="module")
def system():
    gauge = weak_gauge(epsilon=0.4)
    dirac = WilsonDirac(gauge, -0.3, csw=1.0)
    return dirac, random_spinor(gauge.lattice, 2)


@pytest.fixture(scope="module")
def double_cg(system):
    dirac, b = system
    return EvenOdd(CG(tol=TOL))(dirac).solve(b)


def true_residual(dirac, b, x):
    """|b - M x| / |b| with the double operator."""
    lat = dirac.lattice
    return np.sqrt(lat.norm2(b - dirac.M(x)) / lat.norm2(b))


@pytest.mark.parametrize("sloppy,reconstruct,alternative", [
    ("single", 18, False), ("half", 12, False), ("half", 8, True), ("quarter", 18, False), ("quarter", 12, True)])
def test_reliable_cg(system, double_cg, sloppy, reconstruct, alternative):
    dirac, b = system
    cg = CG(tol=TOL, sloppy=sloppy, reconstruct_sloppy=reconstruct, alternative_reliable=alternative)
    res = EvenOdd(cg)(dirac).solve(b)
    assert res.converged and true_residual(dirac, b, res.x) <= TOL
    assert res.sloppy == sloppy and res.precision == "double" and not res.fallbacks
    assert res.reliable_updates >= 3 and set(res.timings) == {"double", sloppy}
    if sloppy != "quarter":
        assert res.iterations <= 1.15 * double_cg.iterations
    assert json.loads(res.report()["timings"]) == res.timings


def test_uniform_precision_is_the_special_case(system, double_cg):
    """Defaults (sloppy = precision = double) run the same loop with the outer operator as the sloppy
    one: the reliable updates are recomputations of the true residual, all time is double's, and the
    solve is the mixed one's with sloppy double (the same iterations and residual)."""
    dirac, b = system
    assert double_cg.converged and double_cg.sloppy == "double" and set(double_cg.timings) == {"double"}
    assert double_cg.reliable_updates > 0 and not double_cg.fallbacks
    same = EvenOdd(CG(tol=TOL, sloppy="double", reconstruct_sloppy=18))(dirac).solve(b)
    assert (same.iterations, same.true_residual) == (double_cg.iterations, double_cg.true_residual)


def test_outer_precision_single(system):
    """precision = single: the solution and true residual in single, iterations in half."""
    dirac, b = system
    res = EvenOdd(CG(tol=1e-5, precision="single", sloppy="half"))(dirac).solve(b)
    assert res.converged and true_residual(dirac, b, res.x) <= 1e-5 and res.precision == "single"


@pytest.mark.parametrize("sloppy", ["single", "half"])
def test_reliable_bicgstab(system, sloppy):
    dirac, b = system
    res = EvenOdd(BiCGstab(tol=TOL, sloppy=sloppy))(dirac).solve(b)
    assert res.converged and true_residual(dirac, b, res.x) <= TOL and res.reliable_updates >= 3
    full = BiCGstab(tol=TOL, sloppy=sloppy)(dirac.operator()).solve(b)
    assert full.converged and true_residual(dirac, b, full.x) <= TOL


@pytest.mark.parametrize("preconditioner", [None, MR(maxiter=4), CG(tol=0.1, maxiter=5)], ids=["none", "mr", "cg"])
def test_mixed_gcr(system, preconditioner):
    """The cycles in half, the preconditioner in quarter (a mixed-capable one confined to it), its
    iterations and time reported apart from the cycles'."""
    dirac, b = system
    gcr = GCR(tol=TOL, sloppy="half", precision_preconditioner="quarter", preconditioner=preconditioner)
    res = EvenOdd(gcr)(dirac).solve(b)
    assert res.converged and true_residual(dirac, b, res.x) <= TOL
    assert res.reliable_updates >= 2 and "half" in res.timings
    assert sum(res.timings.values()) <= res.seconds
    if preconditioner is None:
        assert set(res.timings) == {"double", "half"} and res.preconditioner_iterations == 0
    else:
        assert set(res.timings) == {"double", "half", "preconditioner (quarter)"}
        assert res.iterations <= res.preconditioner_iterations <= preconditioner.maxiter * res.iterations


class SpyMR(MR):
    """MR recording the precision of every operator it is applied to."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen = set()

    def solve(self, op, b, x0=None):
        self.seen.add(op.precision.name)
        return super().solve(op, b, x0)


@pytest.mark.parametrize("precision_preconditioner", ["sloppy", "single"])
def test_gcr_preconditioner_precision_and_report(system, precision_preconditioner):
    """precision = sloppy = double: the preconditioner runs in precision_preconditioner, also where only
    it differs; "sloppy" keeps it in double. The report counts the preconditioner's iterations (4 MR
    iterations per GCR step) and times it apart."""
    dirac, b = system
    spy = SpyMR(maxiter=4)
    res = EvenOdd(GCR(tol=TOL, precision_preconditioner=precision_preconditioner, preconditioner=spy))(dirac).solve(b)
    assert res.converged and true_residual(dirac, b, res.x) <= TOL
    inner = "double" if precision_preconditioner == "sloppy" else "single"
    assert spy.seen == {inner} and res.sloppy == "double"
    assert set(res.timings) == {"double", f"preconditioner ({inner})"}
    assert res.reliable_updates > 0
    assert res.preconditioner_iterations == 4 * res.iterations > 0
    assert res.report()["preconditioner_iterations"] == res.preconditioner_iterations
    assert sum(res.timings.values()) <= res.seconds


@pytest.mark.parametrize("sloppy", ["half", "quarter"])
def test_defect_correction(system, double_cg, sloppy):
    """Each correction restarts the Krylov space: more iterations than CG (reliable-update CG in
    half takes as many as double CG here)."""
    dirac, b = system
    res = EvenOdd(DefectCorrection(tol=TOL, sloppy=sloppy))(dirac).solve(b)
    assert res.converged and true_residual(dirac, b, res.x) <= TOL
    assert res.restarts >= 5 and res.solver == "evenodd(defect_correction(cg))" and res.reliable_updates == 0
    assert res.iterations > double_cg.iterations


def test_staggered_mixed_cg():
    """Hermitian systems (staggered M^dag M per parity, MILC's even-odd scheme) in half."""
    gauge = weak_gauge(epsilon=0.3)
    dirac = StaggeredDirac(gauge, 0.05)
    b = random_spinor(gauge.lattice, 6, shape=(3,))
    res = EvenOddNormal(CG(tol=TOL, sloppy="half", reconstruct_sloppy=12))(dirac).solve(b)
    assert res.converged and res.reliable_updates > 0
    full = dirac.normal_operator()
    assert np.sqrt(gauge.lattice.norm2(b - full(res.x)) / gauge.lattice.norm2(b)) <= TOL
    res = EvenOdd(CG(tol=TOL, sloppy="half"))(dirac).solve(b)
    assert res.converged and true_residual(dirac, b, res.x) <= TOL


# ---- the fallback chain ------------------------------------------------------------------------
def diagonal_operator():
    """A Hermitian positive-definite diagonal operator (condition number 2) whose half-precision copy
    is wrong (0.4 times the right one): each correction found in half overshoots, so the true
    residual grows by about 1.5 at every reliable update while the iterated one falls. Its single
    and double copies are right."""
    lattice = Lattice([4, 4, 4, 4])
    d = np.random.default_rng(1).uniform(1, 2, lattice.shape + (3,))
    wrong = 0.4 * d

    def make(precision, reconstruct=18):
        diag = wrong if precision is HALF else d
        if precision is DOUBLE:
            return LinearOperator(lattice, lambda x: d * x, hermitian=True, name="D", at=make)
        return LinearOperator(lattice, lambda x: store(precision, diag * store(precision, x)), hermitian=True,
                              name=f"D[{precision.name}]", precision=precision, reconstruct=reconstruct, at=make)

    b = random_spinor(lattice, 7, shape=(3,))
    return make(DOUBLE), b


@pytest.mark.parametrize("solver", [CG, BiCGstab, GCR, DefectCorrection])
def test_fallback_to_the_next_precision(solver):
    op, b = diagonal_operator()
    res = solver(tol=TOL, sloppy="half")(op).solve(b)
    assert res.converged and np.sqrt(op.space.norm2(b - op(res.x)) / op.space.norm2(b)) <= TOL
    assert [(f["from"], f["to"]) for f in res.fallbacks] == [("half", "single")]
    assert "increased" in res.fallbacks[0]["reason"] and "single" in res.timings
    assert json.loads(res.report()["fallbacks"]) == res.fallbacks


def test_without_fallback_the_solve_stops():
    op, b = diagonal_operator()
    res = CG(tol=TOL, sloppy="half", fallback=False)(op).solve(b)
    assert not res.converged and res.reason.startswith("stopped: true residual increased")
    assert not res.fallbacks and res.iterations < 200


def test_fallback_chain():
    """The chain of the built-in precisions (installed plugins may add steps: float16 between quarter
    and half)."""
    registry = Registry(make_plugin_manager(entry_points=False))
    cfg = dict(precision="double", sloppy="quarter", precision_preconditioner="sloppy", eigensolver="same",
               reconstruct=12, reconstruct_sloppy=8)
    p = resolve_precisions(registry, cfg)
    assert [q.name for q in p.chain] == ["quarter", "half", "single", "double"]
    assert p.preconditioner.name == "quarter" and p.eigensolver is DOUBLE and p.reconstruct_for(SINGLE) == 8
    assert [q.name for q in resolve_precisions(registry, dict(cfg, precision="single")).chain] == \
        ["quarter", "half", "single"]


@pytest.mark.parametrize("solver", [CG(tol=TOL, sloppy="half"), BiCGstab(tol=TOL, sloppy="single"),
                                    GCR(tol=TOL, sloppy="half"), DefectCorrection(tol=TOL, sloppy="half"),
                                    CG(tol=TOL), BiCGstab(tol=TOL), GCR(tol=TOL), MR(tol=TOL)],
                         ids=["cg", "bicgstab", "gcr", "defect_correction", "cg_uniform", "bicgstab_uniform",
                              "gcr_uniform", "mr"])
def test_solve_from_a_starting_guess(system, solver):
    """x0 = a solution to 1e-4: the solve (mixed or uniform) starts from its true residual and needs
    fewer iterations than from zero; x0 = the exact solution needs none; b = 0 gives x = 0."""
    dirac, b = system
    op = dirac.operator()
    cold = solver(op).solve(b)
    rough = EvenOdd(CG(tol=1e-4))(dirac).solve(b).x
    warm = solver(op).solve(b, x0=rough)
    assert warm.converged and true_residual(dirac, b, warm.x) <= TOL
    assert 0 < warm.iterations < cold.iterations
    again = solver(op).solve(b, x0=warm.x)
    assert again.converged and again.iterations == 0
    zero = solver(op).solve(np.zeros_like(b))
    assert zero.converged and zero.iterations == 0 and not np.any(zero.x)


def test_outer_compression_of_links_that_are_not_su3_in_double():
    """Links rounded to single precision are SU(3) to 1e-7 only: reconstruct 12 on the outer (double)
    operator would solve another system (delta ~ 1e-8), so tol 1e-10 is refused with the way out;
    tol 1e-6 tolerates it; reunitarized links solve to 1e-10, and a compressed sloppy operator alone
    is always fine (reliable updates correct it)."""
    from hpcmix.errors import SolverError
    from hpcmix.fields import GaugeField
    from hpcmix.io.links import reunitarize
    gauge = weak_gauge(epsilon=0.4)
    rounded = GaugeField(gauge.lattice, gauge.U.astype(np.complex64).astype(np.complex128))
    dirac = WilsonDirac(rounded, -0.3)
    b = random_spinor(rounded.lattice, 2)
    with pytest.raises(SolverError, match="reconstruct = 12 changes the operator by .* reunitarize"):
        EvenOdd(CG(tol=TOL, reconstruct=12))(dirac).solve(b)
    loose = EvenOdd(CG(tol=1e-6, reconstruct=12))(dirac).solve(b)
    assert loose.converged and true_residual(dirac, b, loose.x) <= 1e-6
    sloppy = EvenOdd(CG(tol=TOL, sloppy="half", reconstruct_sloppy=12))(dirac).solve(b)
    assert sloppy.converged and true_residual(dirac, b, sloppy.x) <= TOL
    reunitarize(rounded)
    dirac = WilsonDirac(rounded, -0.3)
    res = EvenOdd(CG(tol=TOL, reconstruct=12))(dirac).solve(b)
    assert res.converged and true_residual(dirac, b, res.x) <= TOL


@pytest.mark.parametrize("solver", [CG, BiCGstab])
def test_stopping_between_reliable_updates_keeps_the_partial_solution(system, solver):
    """At maxiter between two updates the solution accumulated since the last one is folded in: the
    mixed solve's true residual is about the plain double solve's, not the last update's."""
    dirac, b = system
    op = dirac.operator()
    plain = solver(tol=TOL, maxiter=25)(op).solve(b)
    mixed = solver(tol=TOL, maxiter=25, sloppy="single", reliable_delta=1e-3)(op).solve(b)
    assert not mixed.converged and mixed.iterations == 25
    assert mixed.true_residual == pytest.approx(true_residual(dirac, b, mixed.x), rel=1e-6)
    assert mixed.true_residual <= 2 * plain.true_residual
