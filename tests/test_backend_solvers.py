"""Every solver on the even-odd Wilson and Wilson-clover operators on every backend that loads (the
``backend`` fixture of conftest.py), so the backends cannot drift: CG, BiCGstab, GCR and defect
correction in every uniform and mixed pair of double, single and half, MR, GCR with a preconditioner in
half, starting guesses, and the fallback of a sloppy precision that stops making progress. Each is
checked against independent truth: the full system's true residual recomputed in double on canonical
arrays with :class:`WilsonDirac` (not the solver's claim), the canonical numpy solution, and the
iteration count of the same solver on canonical arrays. Also per backend: gamma5-hermiticity of the
Schur and full operators in each storage precision (gamma5 and the inner products taken on canonical
arrays), and a propagator deck run with ``[run] backend`` set to it."""

import json

import h5py
import numpy as np
import pytest

from cli_helpers import WEAK_GAUGE, hpcmix, write_deck
from hpcmix.fields import GaugeField
from hpcmix.fields.full import FullField
from hpcmix.lattice import Lattice
from hpcmix.operators.base import LinearOperator
from hpcmix.operators.gamma import GAMMA5
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass
from hpcmix.precision import DOUBLE, HALF, SINGLE
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.bicgstab import BiCGstab
from hpcmix.solvers.cg import CG
from hpcmix.solvers.defect_correction import DefectCorrection
from hpcmix.solvers.gcr import GCR
from hpcmix.solvers.mr import MR
from lattice_helpers import random_spinor, weak_gauge

#: tolerance of a solve by its outer precision (at least 10 unit roundoffs of it, as the deck requires)
TOL = {"double": 1e-10, "single": 1e-5, "half": 1e-3}
#: (outer, sloppy): uniform and mixed precision
PAIRS = [("double", "double"), ("double", "single"), ("double", "half"), ("single", "single"), ("single", "half"),
         ("half", "half")]
#: a solution agrees with the canonical one to this many times the tolerance (max norm, relative)
AGREE = 10
#: iterations on a backend's fields within this factor of the same solver's on canonical arrays
ITERATIONS = 1.25


def mixed(kind, outer, sloppy, **kw):
    """``kind`` with outer and sloppy precisions (half sloppy with reconstruct 12, as decks use it)."""
    if sloppy == "half":
        kw["reconstruct_sloppy"] = 12
    return kind(tol=TOL[outer], precision=outer, sloppy=sloppy, **kw)


#: name -> (a new solver, outer precision, sloppy precision)
SOLVERS = {f"{kind.name}_{outer}_{sloppy}": ((lambda k=kind, o=outer, s=sloppy: mixed(k, o, s)), outer, sloppy)
           for kind in (CG, BiCGstab, GCR, DefectCorrection) for outer, sloppy in PAIRS}
SOLVERS.update({
    "cg_double_half_alternative": (lambda: mixed(CG, "double", "half", alternative_reliable=True), "double", "half"),
    "cg_double12_half": (lambda: mixed(CG, "double", "half", reconstruct=12), "double", "half"),
    "gcr_mr_double_half": (lambda: mixed(GCR, "double", "half", preconditioner=MR(maxiter=4)), "double", "half"),
    "mr": (lambda: MR(tol=TOL["double"]), "double", "double"),
})


def true_residual(dirac, b, x):
    """|b - M x| / |b| in double with the canonical operator."""
    lat = dirac.lattice
    return np.sqrt(lat.norm2(b - dirac.M(x)) / lat.norm2(b))


def as_canonical(fields, field):
    """A half-lattice field as a canonical array (zero on the other parity)."""
    other = fields.spaces[1 - field.parity].zeros_like(field)
    return fields.export_field(FullField(field, other) if field.parity == 0 else FullField(other, field))


def through(fields, op, v, parity=None):
    """``op`` applied through ``fields`` to the canonical array ``v`` (on sites of ``parity``; None: a
    full-lattice operator), as a canonical array."""
    x = fields.import_field(v)
    return fields.export_field(op(x)) if parity is None else as_canonical(fields, op(x[parity]))


def gamma5(v):
    """gamma5 on a canonical spinor array."""
    return np.einsum("st,...tc->...sc", GAMMA5, v)


class System:
    """M x = b on a 4^4 weak field: the canonical operator, the right-hand side, its canonical solution
    to 1e-12 and the canonical solves by name (each solved once, whatever the backend)."""

    def __init__(self, dirac, b):
        self.dirac, self.b = dirac, b
        self.x = EvenOdd(CG(tol=1e-12))(dirac).solve(b).x
        self._solves = {}

    def canonical_solve(self, name):
        if name not in self._solves:
            self._solves[name] = EvenOdd(SOLVERS[name][0]())(self.dirac).solve(self.b)
        return self._solves[name]


@pytest.fixture(scope="module")
def gauge():
    return weak_gauge(dims=(4, 4, 4, 4), epsilon=0.4)


@pytest.fixture(scope="module", params=[0.0, 1.0], ids=["wilson", "clover"])
def system(request, gauge):
    return System(WilsonDirac(gauge, -0.2, csw=request.param), random_spinor(gauge.lattice, 2))


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_evenodd_solve(system, backend, name):
    """The solve on the backend's fields converges in its precisions without a fallback; the full system's
    true residual, recomputed in double on canonical arrays, meets the tolerance; the solution is the
    canonical one to the tolerance; the iterations are the canonical solve's within a small factor; mixed
    solves make reliable updates (defect correction restarts) and spend time in the sloppy precision."""
    new, outer, sloppy = SOLVERS[name]
    d, b, tol = system.dirac, system.b, TOL[outer]
    f = d.on_backend(backend)
    res = EvenOdd(new())(f).solve(f.import_field(b))
    x = f.export_field(res.x)
    assert res.converged and (res.precision, res.sloppy) == (outer, sloppy) and not res.fallbacks
    assert true_residual(d, b, x) <= tol
    assert np.abs(x - system.x).max() <= AGREE * tol * np.abs(system.x).max()
    ref = system.canonical_solve(name)
    assert ref.converged
    assert ref.iterations / ITERATIONS <= res.iterations <= ITERATIONS * ref.iterations
    if name.startswith("defect_correction"):
        assert res.restarts >= 1 and res.reliable_updates == 0
    elif name != "mr":
        assert res.reliable_updates >= 2
    assert sloppy in res.timings
    if name.startswith("gcr_mr"):
        assert 0 < res.preconditioner_iterations <= 4 * res.iterations and "preconditioner (half)" in res.timings


@pytest.mark.parametrize("name", ["cg_double_double", "cg_double_half", "bicgstab_double_single", "gcr_double_half",
                                  "defect_correction_double_half", "mr"])
def test_starting_guess(system, backend, name):
    """On the backend's Schur system: from a solution to 1e-4 the solve needs fewer iterations than from
    zero and meets the tolerance (the Schur residual recomputed in double with the canonical Schur
    operator); from its own solution it needs none; b = 0 gives x = 0 with none."""
    new = SOLVERS[name][0]
    d, b = system.dirac, system.b
    f = d.on_backend(backend)
    op, prepare, _ = f.schur(0)
    bhat = prepare(f.import_field(b))
    cold = new().solve(op, bhat)
    warm = new().solve(op, bhat, x0=CG(tol=1e-4).solve(op, bhat).x)
    assert warm.converged and 0 < warm.iterations < cold.iterations
    cop, cprepare, _ = d.schur(0)
    cb, xe = cprepare(b), as_canonical(f, warm.x)
    assert np.sqrt(d.lattice.norm2(cb - cop(xe)) / d.lattice.norm2(cb)) <= TOL["double"]
    again = new().solve(op, bhat, x0=warm.x)
    assert again.converged and again.iterations == 0
    zero = new().solve(op, op.space.zeros_like(bhat))
    assert zero.converged and zero.iterations == 0 and op.space.norm2(zero.x) == 0


def test_evenodd_passes_the_starting_guess_on(system, backend):
    """EvenOdd hands the even part of a starting guess to its inner solver: from its own solution of the
    full system a second solve needs no iteration, on canonical arrays and on the backend's fields."""
    d, b = system.dirac, system.b
    first = EvenOdd(CG(tol=1e-10))(d).solve(b)
    assert first.iterations > 0 and EvenOdd(CG(tol=1e-10))(d).solve(b, first.x).iterations == 0
    f = d.on_backend(backend)
    bf = f.import_field(b)
    first = EvenOdd(CG(tol=1e-10))(f).solve(bf)
    again = EvenOdd(CG(tol=1e-10))(f).solve(bf, first.x)
    assert first.iterations > 0 and again.converged and again.iterations == 0


class WrongInHalf:
    """``fields`` whose Schur operator stored in half is 0.4 times the right one (its single and double
    copies are right): each correction found in half overshoots, so the true residual grows at the
    reliable updates (or restarts) while the iterated one falls, until the solve falls back to single."""

    def __init__(self, fields):
        self.fields, self.space = fields, fields.space

    def operator(self):
        return self.fields.operator()

    def schur(self, parity=0):
        op, prepare, reconstruct = self.fields.schur(parity)

        def at(precision, links):
            right = op.at(precision, links)
            if precision is not HALF:
                return right
            sp = right.space

            def scaled(v):
                return sp.lincomb(v, (0.4,), (v,))

            return LinearOperator(sp, lambda v: scaled(right(v)), lambda v: scaled(right.adjoint()(v)),
                                  name="0.4 Mhat", precision=HALF, reconstruct=links, at=at)

        return LinearOperator(op.space, op, op.adjoint(), name=op.name, at=at), prepare, reconstruct


@pytest.mark.parametrize("kind", [CG, BiCGstab, GCR, DefectCorrection], ids=lambda k: k.name)
def test_fallback_to_single(system, backend, kind):
    """A sloppy half operator that stops making progress: the solve falls back to single (reported), then
    meets the tolerance on the full system (recomputed in double on canonical arrays) with the canonical
    solution."""
    d, b = system.dirac, system.b
    f = d.on_backend(backend)
    res = EvenOdd(kind(tol=TOL["double"], sloppy="half"))(WrongInHalf(f)).solve(f.import_field(b))
    x = f.export_field(res.x)
    assert res.converged and true_residual(d, b, x) <= TOL["double"]
    assert [(fb["from"], fb["to"]) for fb in res.fallbacks] == [("half", "single")]
    assert "increased" in res.fallbacks[0]["reason"] and {"half", "single"} <= set(res.timings)
    assert np.abs(x - system.x).max() <= AGREE * TOL["double"] * np.abs(system.x).max()


@pytest.mark.parametrize("precision,reconstruct", [(DOUBLE, 18), (SINGLE, 18), (HALF, 12)],
                         ids=["double18", "single18", "half12"])
def test_gamma5_hermiticity(system, backend, precision, reconstruct):
    """<y, Mhat x> = <gamma5 Mhat gamma5 y, x> = <Mhat^dag y, x> for the Schur operators of both parities
    (the site term is Hermitian), and <y, M x> = <gamma5 M gamma5 y, x> for the full operator, in each
    storage precision to its rounding: gamma5 and the inner products on canonical arrays, so neither the
    fields' adjoint nor their reductions are taken on trust."""
    d = system.dirac
    lat = d.lattice
    f = d.on_backend(backend).at(precision, reconstruct)
    bound = 100 * max(precision.unit_roundoff, 1e-15)
    x0, y0 = random_spinor(lat, 3), random_spinor(lat, 4)
    for parity in (0, 1):
        op = f.schur(parity)[0]
        x, y = x0 * d.parity_mask(parity), y0 * d.parity_mask(parity)
        lhs = lat.inner(y, through(f, op, x, parity))
        assert abs(lat.inner(gamma5(through(f, op, gamma5(y), parity)), x) - lhs) <= bound * abs(lhs)
        assert abs(lat.inner(through(f, op.adjoint(), y, parity), x) - lhs) <= bound * abs(lhs)
    full = f.operator()
    lhs = lat.inner(y0, through(f, full, x0))
    assert abs(lat.inner(gamma5(through(f, full, gamma5(y0))), x0) - lhs) <= bound * abs(lhs)


#: a clover propagator in double-half CG and a Wilson one in double-single BiCGstab, point source at 0
DECK = WEAK_GAUGE + """
[[stage]]
name = "clover"
kind = "propagator"
operator = { kind = "wilson_clover", kappa = 0.12, csw = 1.0 }
solver = { kind = "cg", tol = 1e-9, sloppy = "half", reconstruct_sloppy = 12 }
save_solution = true

[[stage]]
name = "wilson"
kind = "propagator"
operator = { kind = "wilson", kappa = 0.12 }
solver = { kind = "bicgstab", tol = 1e-9, sloppy = "single" }
save_solution = true
"""
DECK_TOL = 1e-9
DECK_STAGES = {"clover": (1.0, CG(tol=DECK_TOL, sloppy="half", reconstruct_sloppy=12)),
               "wilson": (0.0, BiCGstab(tol=DECK_TOL, sloppy="single"))}


@pytest.fixture(scope="module")
def deck_truth():
    """Per stage of DECK: the canonical operator (the deck's weak field: seed 5, epsilon 0.2) and, per
    point-source component, the canonical solution to 1e-12 and the iterations of the deck's solver on
    canonical arrays."""
    lattice = Lattice([4, 4, 4, 4])
    gauge = GaugeField.weak(lattice, 5, 0.2)
    truth = {}
    for stage, (csw, solver) in DECK_STAGES.items():
        d = WilsonDirac(gauge, kappa_to_mass(0.12), csw=csw, clover=bool(csw))
        solves = []
        for k in range(12):
            b = lattice.zeros((4, 3))
            b[(0, 0, 0, 0) + divmod(k, 3)] = 1
            solves.append((b, EvenOdd(CG(tol=1e-12))(d).solve(b).x, EvenOdd(solver)(d).solve(b).iterations))
        truth[stage] = (d, solves)
    return truth


def test_propagator_deck(tmp_path, backend, deck_truth):
    """``[run] backend`` set to the backend: the solves run on its fields (not on canonical arrays), and
    every saved solution meets the deck's tolerance on the full system (recomputed in double on canonical
    arrays) and is the canonical solution to it, in about the canonical solver's iterations; so the
    backends give the same propagators."""
    deck = write_deck(tmp_path / "deck.toml", f'backend = "{backend.name}"\n' + DECK)
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"backend {backend.name}" in result.stdout and "canonical numpy arrays" not in result.stdout
    with h5py.File(tmp_path / "out.h5") as out:
        assert out.attrs["backend"] == backend.name
        for stage, (d, solves) in deck_truth.items():
            solution = out[f"{stage}/solution"][...]
            for k, (b, exact, iterations) in enumerate(solves):
                x = solution[..., k // 3, k % 3]
                assert true_residual(d, b, x) <= DECK_TOL
                assert np.abs(x - exact).max() <= AGREE * DECK_TOL * np.abs(exact).max()
                report = out[f"{stage}/solves/{k}"].attrs
                assert report["converged"] and json.loads(report["fallbacks"]) == []
                assert iterations / ITERATIONS <= report["iterations"] <= ITERATIONS * iterations
