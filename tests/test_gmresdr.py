"""GMRES-DR (deflated restarted GMRES) on the non-Hermitian even-odd Wilson operator Mhat of a 4^4 random
gauge field at kappa = 0.25, close to critical there (smallest |eigenvalue| about 0.03): the solution is
numpy.linalg.solve's of the dense Mhat and meets the tolerance recomputed with the canonical operator, on
every backend; the harmonic Ritz values kept at the end are numpy.linalg.eigvals's smallest-magnitude
eigenvalues of the dense Mhat; it needs clearly fewer matrix-vector products than GCR (restarted GMRES) of
the same restart length, in uniform and mixed precision and with a preconditioner; the whole system (no
even-odd) and canonical arrays; starting guesses and the fallback of a broken sloppy precision; a deck
propagator with solver kind "gmresdr"; bad keys refused by name."""

import h5py
import numpy as np
import pytest

from cli_helpers import SOLVER_BODY, hpcmix, write_deck
from hpcmix.deck import Deck
from hpcmix.errors import DeckError, SolverError
from hpcmix.fields.full import FullField
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass
from hpcmix.registry import get_registry
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.gcr import GCR
from hpcmix.solvers.gmresdr import Cycle, GMRESDR
from hpcmix.solvers.mr import MR
from lattice_helpers import dense_even, random_spinor, weak_gauge
from test_backend_solvers import WrongInHalf

TOL = 1e-10
#: GMRES-DR(m, k) and GCR with the same restart length m (reliable_delta = 0: cycles of m steps, restarted
#: GMRES(m) in exact arithmetic)
M, K = 24, 8
#: matvecs of GCR(M) over GMRES-DR(M, K) on the critical system (measured: 1265 / 472 = 2.7; GMRES-DR with
#: every restart clean, no deflation, takes GCR's 1214 iterations exactly)
GAIN = 2.0


def gmresdr(**kw):
    return GMRESDR(tol=TOL, n_kr=M, n_ev=K, maxiter=3000, **kw)


def restarted_gmres(**kw):
    return GCR(tol=TOL, nkrylov=M, reliable_delta=0.0, maxiter=3000, **kw)


def matvecs(res):
    """Applications of the operator: the sloppy ones (iterations) and one true residual per cycle."""
    return res.iterations + res.restarts + 1


def as_canonical(fields, x):
    """An even half-lattice field as a canonical array (zero on odd sites)."""
    return fields.export_field(FullField(x, fields.spaces[1].zeros_like(x)))


class Critical:
    """Mhat on even sites of a 4^4 random field at kappa 0.25 (canonical), its dense matrix (1536 x 1536,
    built column by column from the canonical operator), a right-hand side bhat, numpy.linalg.solve's
    solution and numpy.linalg.eigvals's eigenvalues by ascending magnitude."""

    def __init__(self):
        lattice = Lattice([4, 4, 4, 4])
        self.dirac = WilsonDirac(GaugeField.random(lattice, 2), kappa_to_mass(0.25), csw=0.0)
        self.lattice, (self.op, prepare, _) = lattice, self.dirac.schur(0)
        dense, self.even = dense_even(self.op, lattice)
        self.b = random_spinor(lattice, 3)
        self.bhat = prepare(self.b)
        self.x = np.linalg.solve(dense, self.bhat[self.even])
        eig = np.linalg.eigvals(dense)
        self.eigenvalues = eig[np.argsort(np.abs(eig))]

    def true_residual(self, fields, x):
        """|bhat - Mhat x| / |bhat| with the canonical operator, for x on ``fields``' even sites."""
        x = as_canonical(fields, x)
        return np.sqrt(self.lattice.norm2(self.bhat - self.op(x)) / self.lattice.norm2(self.bhat))


@pytest.fixture(scope="module")
def critical():
    return Critical()


def schur_system(critical, backend):
    """The critical system on ``backend``'s fields: (fields, Mhat, bhat)."""
    f = critical.dirac.on_backend(backend)
    op, prepare, _ = f.schur(0)
    return f, op, prepare(f.import_field(critical.b))


@pytest.fixture(scope="module")
def solved(critical, backend):
    """GMRES-DR(M, K) on the backend's Mhat: (its fields, the solver, its record)."""
    f, op, bhat = schur_system(critical, backend)
    solver = gmresdr()
    return f, solver, solver.solve(op, bhat)


@pytest.fixture(scope="module")
def fast(critical):
    """For the comparisons (whose counts do not depend on the backend): the critical system on numba's
    fields where numba loads, else numpy's, and GMRES-DR(M, K)'s record on it in double."""
    entries = {e.name: e.obj for e in get_registry().entries("backends")}
    name = "numba" if "numba" in entries and entries["numba"].available()[0] else "numpy"
    f, op, bhat = schur_system(critical, entries[name]())
    return f, op, bhat, gmresdr().solve(op, bhat)


def test_solves_like_dense_solve(critical, solved):
    """Converged by the true residual, recomputed with the canonical operator, and numpy.linalg.solve's
    solution to the conditioning of Mhat (|x - x_dense| / |x_dense| <= 1e-8; measured 1.5e-10)."""
    f, _, res = solved
    x = as_canonical(f, res.x)[critical.even]
    assert res.converged and res.solver == "gmresdr" and res.true_residual <= TOL
    assert critical.true_residual(f, res.x) <= TOL
    assert np.linalg.norm(x - critical.x) <= 1e-8 * np.linalg.norm(critical.x)
    assert res.restarts >= 10 and res.reliable_updates == res.restarts + 1
    assert len(res.history) == res.iterations and res.history[-1] <= 2 * TOL


def test_harmonic_ritz_values_are_the_smallest_eigenvalues(critical, solved):
    """The K harmonic Ritz values kept at the end (ascending |theta|) approximate the smallest-magnitude
    eigenvalues of the dense Mhat: the smallest, lambda_0 = 0.0314, to 1e-6 relative (measured 1.5e-8);
    each of the next four (two complex-conjugate pairs, |lambda| 0.11 and 0.16) by one of them to 1e-3
    relative (measured <= 5e-4); and none beyond the 24 smallest (|lambda| up to 0.45, in a spectrum
    reaching 8). Keeping the largest |theta|, or Ritz values instead of harmonic ones, or restarts that
    lose the deflation space, would not find lambda_0 to 1e-6."""
    _, solver, _ = solved
    theta, exact = solver.ritz_values, critical.eigenvalues
    assert len(theta) == K and np.all(np.diff(np.abs(theta)) >= 0)
    assert abs(theta[0] - exact[0]) <= 1e-6 * abs(exact[0])
    for lam in exact[1:5]:
        assert np.abs(theta - lam).min() <= 1e-3 * abs(lam), (lam, theta)
    assert np.abs(theta).max() <= abs(exact[23])


def test_fewer_matvecs_than_restarted_gmres(critical, fast):
    """At kappa 0.25 restarted GMRES(M) (GCR with cycles of M) stalls on the small eigenvalues; GMRES-DR(M, K)
    deflates them and needs GAIN times fewer applications of Mhat for the same true residual. In double-half
    (the basis in half) it needs the same number within 10 %."""
    f, op, bhat, dr = fast
    plain = restarted_gmres().solve(op, bhat)
    half = gmresdr(sloppy="half", reconstruct_sloppy=12).solve(op, bhat)
    for res in (dr, plain, half):
        assert res.converged and critical.true_residual(f, res.x) <= TOL
    assert GAIN * matvecs(dr) <= matvecs(plain), (matvecs(dr), matvecs(plain))
    assert abs(matvecs(half) - matvecs(dr)) <= 0.1 * matvecs(dr), (matvecs(half), matvecs(dr))
    assert not half.fallbacks and half.sloppy == "half" and "half" in half.timings


def test_preconditioned(critical, fast):
    """Right preconditioning by MR (4 steps, in half; flexible): the tolerance in 2/3 of the outer matvecs
    of the unpreconditioned solve (measured 251 / 444); the inner iterations are reported."""
    f, op, bhat, dr = fast
    res = gmresdr(sloppy="half", reconstruct_sloppy=12, preconditioner=MR(maxiter=4)).solve(op, bhat)
    assert res.converged and critical.true_residual(f, res.x) <= TOL
    assert 0 < res.preconditioner_iterations <= 4 * res.iterations and "preconditioner (half)" in res.timings
    assert 3 * res.iterations <= 2 * dr.iterations, (res.iterations, dr.iterations)


def test_basis_precision(critical, fast):
    """The basis stored in single under a half sloppy operator, and in half under a double one: both reach
    the tolerance, in about the double solve's matvecs."""
    f, op, bhat, dr = fast
    for kw in ({"sloppy": "half", "precision_basis": "single"}, {"precision_basis": "half"}):
        res = gmresdr(**kw).solve(op, bhat)
        assert res.converged and critical.true_residual(f, res.x) <= TOL, kw
        assert res.iterations <= 1.2 * dr.iterations, (kw, res.iterations, dr.iterations)


@pytest.fixture(scope="module")
def light():
    """A weak-field clover system (cheap): the canonical operator and a right-hand side."""
    gauge = weak_gauge(dims=(4, 4, 4, 4), epsilon=0.4)
    return WilsonDirac(gauge, -0.2, csw=1.0), random_spinor(gauge.lattice, 2)


def full_residual(dirac, b, x):
    return np.sqrt(dirac.lattice.norm2(b - dirac.M(x)) / dirac.lattice.norm2(b))


def test_whole_system(light, backend):
    """M x = b without even-odd on the backend's fields (the basis a block of FullFields), in double and
    double-single: the tolerance with the canonical M."""
    d, b = light
    f = d.on_backend(backend)
    for kw in ({}, {"sloppy": "single"}):
        res = GMRESDR(tol=TOL, **kw)(f.operator()).solve(f.import_field(b))
        assert res.converged and full_residual(d, b, f.export_field(res.x)) <= TOL


def test_canonical_arrays(light):
    """On canonical numpy arrays (the basis one array of fields), even-odd in double-half and the whole system
    in double: the tolerance with the canonical M."""
    d, b = light
    for inverse in (EvenOdd(GMRESDR(tol=TOL, sloppy="half"))(d), GMRESDR(tol=TOL)(d.operator())):
        res = inverse.solve(b)
        assert res.converged and full_residual(d, b, res.x) <= TOL


def test_starting_guess_and_zero(light, backend):
    """From a rough solution fewer matvecs; from its own solution none; b = 0 gives x = 0."""
    d, b = light
    f = d.on_backend(backend)
    op, prepare, _ = f.schur(0)
    bhat = prepare(f.import_field(b))
    cold = GMRESDR(tol=TOL).solve(op, bhat)
    warm = GMRESDR(tol=TOL).solve(op, bhat, x0=GMRESDR(tol=1e-4).solve(op, bhat).x)
    assert cold.converged and warm.converged and 0 < warm.iterations < cold.iterations
    again = GMRESDR(tol=TOL).solve(op, bhat, x0=warm.x)
    assert again.converged and again.iterations == 0
    zero = GMRESDR(tol=TOL).solve(op, op.space.zeros_like(bhat))
    assert zero.converged and zero.iterations == 0 and op.space.norm2(zero.x) == 0


def test_fallback_from_a_wrong_sloppy_operator(light, backend, monkeypatch):
    """A half operator 0.4 times the right one: the true residual leaves the iterated one, so restarts are
    clean (no deflation space kept); it grows, and the solve falls back to single and converges."""
    d, b = light
    f = d.on_backend(backend)
    kept, restart = [], Cycle.restart

    def spy(self, G, s):
        kept.append(restart(self, G, s))
        return kept[-1]

    monkeypatch.setattr(Cycle, "restart", spy)
    res = EvenOdd(GMRESDR(tol=TOL, sloppy="half"))(WrongInHalf(f)).solve(f.import_field(b))
    assert res.converged and full_residual(d, b, f.export_field(res.x)) <= TOL
    assert [(fb["from"], fb["to"]) for fb in res.fallbacks] == [("half", "single")]
    assert kept[0] is False and True in kept


def test_sizes_are_checked():
    """From Python, sizes GMRES-DR cannot run with are a SolverError."""
    with pytest.raises(SolverError, match="n_kr > n_ev \\+ 1"):
        GMRESDR(n_kr=9, n_ev=8)
    with pytest.raises(SolverError, match="n_ev >= 1"):
        GMRESDR(n_ev=0)


DECK_BODY = SOLVER_BODY + "save_solution = true\n"


def test_propagator_deck(tmp_path):
    """Two propagators with solver kind "gmresdr" (even-odd in double-half, and the whole system): every
    column converges (the report's true residual) and solves M x = b with the canonical operator."""
    body = DECK_BODY.format(solver='{ kind = "gmresdr", tol = 1e-9, n_kr = 12, n_ev = 4, sloppy = "half", '
                                   'reconstruct_sloppy = 12 }')
    body += """
[[stage]]
name = "whole"
kind = "propagator"
operator = { kind = "wilson_clover", kappa = 0.12, csw = 1.0 }
evenodd = false
solver = { kind = "gmresdr", tol = 1e-9 }
save_solution = true
"""
    deck = write_deck(tmp_path / "deck.toml", body)
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lattice = Lattice([4, 4, 4, 4])
    dirac = WilsonDirac(GaugeField.weak(lattice, 5, 0.2), kappa_to_mass(0.12), csw=1.0)
    with h5py.File(tmp_path / "out.h5") as out:
        for stage, name in (("prop", "evenodd(gmresdr)"), ("whole", "gmresdr")):
            solution = out[f"{stage}/solution"][...]
            for k in range(12):
                report = out[f"{stage}/solves/{k}"].attrs
                assert report["converged"] and report["true_residual"] <= 1e-9 and report["solver"] == name
                b = lattice.zeros((4, 3))
                b[(0, 0, 0, 0) + divmod(k, 3)] = 1
                assert np.sqrt(lattice.norm2(b - dirac.M(solution[..., k // 3, k % 3]))) <= 1e-9
            assert out["prop/solves/0"].attrs["sloppy"] == "half"


BAD = {
    "n_ev": ('{ kind = "gmresdr", n_ev = 0 }', "solver.n_ev", "must be >= 1"),
    "n_kr": ('{ kind = "gmresdr", n_kr = 9, n_ev = 8 }', "solver.n_kr", "n_kr > n_ev + 1"),
    "unknown": ('{ kind = "gmresdr", nkrylov = 16 }', "solver.nkrylov", "unknown key"),
    "reliable_delta": ('{ kind = "gmresdr", reliable_delta = 0.1 }', "solver.reliable_delta", "unknown key"),
    "basis": ('{ kind = "gmresdr", precision_basis = "eighth" }', "solver.precision_basis",
              "unknown precision 'eighth'"),
    "sloppy": ('{ kind = "gmresdr", sloppy = "halff" }', "solver.sloppy", "unknown precision 'halff'"),
    "preconditioner": ('{ kind = "gmresdr", preconditioner = { kind = "mr", omega = "x" } }',
                       "solver.preconditioner.omega", "expected a number"),
    "type": ('{ kind = "gmresdr", n_kr = 2.5 }', "solver.n_kr", "expected an integer"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_keys(tmp_path, case):
    solver, key, piece = BAD[case]
    deck = write_deck(tmp_path / "deck.toml", DECK_BODY.format(solver=solver))
    with pytest.raises(DeckError) as info:
        Deck.load(deck)
    assert info.value.stage == "prop" and info.value.key == key, str(info.value)
    assert piece in info.value.reason, info.value.reason
