"""EigCG: over a sequence of right-hand sides on the even-odd Wilson-clover system, its accumulated Ritz values
are upper bounds within a stated tolerance of the lowest eigenvalues of the dense Mhat^dag Mhat
(numpy.linalg.eigvalsh), on every backend, on the Hermitian operator and through the normal equations;
init-CG runs the mixed-precision CG (double-half) from the Galerkin guess and re-deflates once; over the
12 columns of a point-source Wilson propagator on lat.sample.l8888 (kappa 0.155) the last columns take at
least 2x fewer iterations than the first; on whole-lattice fields (evenodd = false) as on half-lattice
ones, canonical arrays refused; a deck's propagator with solver kind "eigcg" agrees with plain
cg; bad keys are deck errors naming the key. Every solve is checked on the canonical operator's true
residual."""

import h5py
import numpy as np
import pytest
from mpi4py import MPI

from cli_helpers import SOLVER_BODY, WEAK_GAUGE, write_deck
from hpcmix.deck import Deck
from hpcmix.errors import DeckError, SolverError
from hpcmix.fields.full import FullField
from hpcmix.fields.gauge import GaugeField
from hpcmix.io.milc import MILCGaugeFormat
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass
from hpcmix.pipeline import run_deck
from hpcmix.precision import SINGLE
from hpcmix.registry import get_registry
from hpcmix.solvers import EvenOdd
from hpcmix.solvers.eigcg import EigCG
from lattice_helpers import dense_even

TOL = 1e-10


@pytest.fixture(scope="module")
def light():
    """A light 4^4 Wilson-clover system (CG: about 50 iterations) and the eigenvalues of its dense
    Mhat^dag Mhat on even sites (1536 x 1536), Mhat built column by column with the canonical operator."""
    lattice = Lattice([4, 4, 4, 4])
    dirac = WilsonDirac(GaugeField.weak(lattice, 2, 0.4), -0.2, csw=1.0)
    mhat = dirac.schur(0)[0]
    dense, _ = dense_even(mhat, lattice)
    return lattice, dirac, mhat.normal(), np.linalg.eigvalsh(dense.conj().T @ dense)


def canonical(f, v):
    """An even-site field of ``f`` as a canonical array (zero on odd sites)."""
    return f.export_field(FullField(v, f.spaces[1].zeros_like(v)))


def even_rhs(f, seed):
    sp = f.spaces[0]
    return sp.random_like(sp.new(f.precision), np.random.default_rng(seed))


def numba_backend():
    return get_registry().lookup("backends", "numba")()


def test_ritz_values_match_dense_eigenvalues(light, backend):
    """Through the normal equations of Mhat (as even-odd propagators solve), on every backend."""
    check_ritz_values(light, backend, hermitian=False)


def test_ritz_values_on_the_hermitian_operator(light):
    """On Mhat^dag Mhat itself."""
    check_ritz_values(light, numba_backend(), hermitian=True)


def check_ritz_values(light, backend, hermitian):
    """4 right-hand sides, n_ev 8, search_dim 40: 32 Ritz values of U^dag A U; the lowest 4 within 1e-4
    (relative) of the exact eigenvalues and never below them (Rayleigh-Ritz, Cauchy interlacing), the
    residuals as the canonical operator finds them; every solve converged on its true residual."""
    lattice, dirac, normal, exact = light
    f = dirac.on_backend(backend)
    op = f.schur(0)[0].normal() if hermitian else f.schur(0)[0]
    solver = EigCG(n_ev=8, search_dim=40, rhs_for_eigcg=4, tol=TOL)
    for seed in range(4):
        b = even_rhs(f, seed)
        res = solver.solve(op, b)
        bc, xc = canonical(f, b), canonical(f, res.x)
        applied = normal(xc) if hermitian else dirac.schur(0)[0](xc)
        assert res.converged and np.sqrt(lattice.norm2(bc - applied) / lattice.norm2(bc)) <= TOL
        assert f"rhs {seed + 1} of 4" in res.solver and f"{8 * (seed + 1)} vectors in U" in res.solver
    eig = solver.eigenpairs()
    theta = eig.eigenvalues
    assert len(theta) == 32 and np.all(np.diff(theta) >= 0)
    assert np.all(theta[:8] >= exact[:8] * (1 - 1e-12))
    assert np.all(np.abs(theta[:4] - exact[:4]) <= 1e-4 * exact[:4]), (theta[:4], exact[:4])
    assert np.all(np.abs(theta[:8] - exact[:8]) <= 1e-3 * exact[:8]), (theta[:8], exact[:8])
    assert 0.5 * exact[-1] <= eig.norm <= exact[-1] * (1 + 1e-12)          # ||A|| from the Lanczos matrices
    for i in (0, 5):
        w = canonical(f, eig.vectors[i])
        assert abs(np.vdot(w, w) - 1) <= 1e-12
        found = np.sqrt(lattice.norm2(normal(w) - theta[i] * w)) / eig.norm
        assert abs(found - eig.residuals[i]) <= 1e-6 * found


def test_init_cg_mixed_precision(light):
    """After rhs_for_eigcg = 4 solves, init-CG: double-half CG (reliable updates) from the Galerkin guess
    with U stored in single, one re-deflation at tol_restart, fewer iterations than the first solve,
    converged on the canonical true residual of the full system."""
    lattice, dirac, _, _ = light
    f = dirac.on_backend(numba_backend())
    solver = EigCG(n_ev=8, search_dim=40, rhs_for_eigcg=4, tol=TOL, sloppy="half", eigensolver="single",
                   tol_restart=1e-4)
    inverse = EvenOdd(solver)(f)
    results = []
    for seed in range(5):
        b = np.random.default_rng(seed).standard_normal(lattice.shape + (4, 3)) + 0j
        res = inverse.solve(f.import_field(b))
        x = f.export_field(res.x)
        assert res.converged and np.sqrt(lattice.norm2(b - dirac.M(x)) / lattice.norm2(b)) <= TOL
        results.append(res)
    first, last = results[0], results[-1]
    assert "eigCG phase" in first.solver and first.precision == first.sloppy == "double"
    assert "init-CG, 32 vectors in U" in last.solver and last.sloppy == "half" and last.reliable_updates > 0
    assert last.restarts >= 1 and last.iterations * 1.5 <= first.iterations, (first.iterations, last.iterations)
    assert solver.eigenpairs().vectors.precision is SINGLE


def test_whole_system(light):
    """M x = b on whole-lattice fields (no even-odd: M's normal equations, U a block of FullFields): four
    eigCG solves, then init-CG (LowModes on whole-lattice fields) in fewer iterations, each converged on the
    canonical M; a Ritz pair's residual as the canonical operator finds it. Canonical arrays are refused:
    LowModes makes new fields of the space, which canonical arrays have no shape for."""
    lattice, dirac, _, _ = light
    f = dirac.on_backend(numba_backend())
    solver = EigCG(n_ev=8, search_dim=40, rhs_for_eigcg=4, tol=TOL)
    results = []
    for seed in range(5):
        b = np.random.default_rng(seed).standard_normal(lattice.shape + (4, 3)) + 0j
        res = solver.solve(f.operator(), f.import_field(b))
        x = f.export_field(res.x)
        assert res.converged and np.sqrt(lattice.norm2(b - dirac.M(x)) / lattice.norm2(b)) <= TOL
        results.append(res)
    first, last = results[0], results[-1]
    assert "init-CG, 32 vectors in U" in last.solver
    assert last.iterations * 1.5 <= first.iterations, (first.iterations, last.iterations)
    eig = solver.eigenpairs()
    w = f.export_field(eig.vectors[0])
    found = np.sqrt(lattice.norm2(dirac.Mdag(dirac.M(w)) - eig.eigenvalues[0] * w)) / eig.norm
    assert abs(found - eig.residuals[0]) <= 1e-6 * found
    with pytest.raises(SolverError, match="backend's fields"):
        EigCG(tol=TOL).solve(dirac.operator(), b)


def test_eigcg_without_vectors_yet():
    with pytest.raises(SolverError, match="no Ritz vectors yet"):
        EigCG().eigenpairs()
    with pytest.raises(SolverError, match="search_dim must be >= 2 n_ev \\+ 1"):
        EigCG(n_ev=8, search_dim=16)


def test_propagator_columns_on_l8888(shared_data):
    """The 12 columns of a point-source Wilson propagator (kappa 0.155, even-odd, tol 1e-10) on the real 8^4
    configuration with eigcg's defaults (n_ev 8, search_dim 64, 8 eigCG solves, then init-CG): the last 4
    columns take at least 2x fewer iterations than the first (here 177 -> 68-69), every column converged on
    the canonical true residual of the full system."""
    lattice = Lattice([8, 8, 8, 8], comm=MPI.COMM_SELF)
    gauge = MILCGaugeFormat().read(shared_data / "gauge" / "milc" / "lat.sample.l8888", lattice)
    dirac = WilsonDirac(GaugeField(lattice, gauge.U), kappa_to_mass(0.155), csw=0.0, clover=False)
    f = dirac.on_backend(numba_backend())
    inverse = EvenOdd(EigCG(tol=TOL))(f)
    iterations = []
    for k in range(12):
        b = lattice.zeros((4, 3))
        b[(0, 0, 0, 0) + divmod(k, 3)] = 1.0
        res = inverse.solve(f.import_field(b))
        x = f.export_field(res.x)
        assert res.converged and np.sqrt(lattice.norm2(b - dirac.M(x)) / lattice.norm2(b)) <= TOL, k
        iterations.append(res.iterations)
    print("eigcg iterations per column:", iterations)
    assert "init-CG, 64 vectors in U" in res.solver
    assert 2 * max(iterations[-4:]) <= iterations[0], iterations


OPERATOR = '{ kind = "wilson_clover", kappa = 0.128, csw = 1.0 }'


def propagator(name, solver):
    return f"""
[[stage]]
name = "{name}"
kind = "propagator"
operator = {OPERATOR}
solver = {solver}
save_solution = true
"""


def test_eigcg_propagator_deck(tmp_path):
    """A propagator with solver kind "eigcg" (4 eigCG columns, then init-CG with 32 vectors) solves all 12
    columns to tol and agrees with plain cg's solution; its init-CG columns need 1.5x fewer iterations
    (here 39 -> 22)."""
    body = (WEAK_GAUGE + propagator("plain", '{ kind = "cg", tol = 1e-10 }')
            + propagator("eig", '{ kind = "eigcg", tol = 1e-10, n_ev = 8, search_dim = 24, rhs_for_eigcg = 4 }'))
    deck = write_deck(tmp_path / "deck.toml", body, output=str(tmp_path / "out.h5"))
    run_deck(Deck.load(deck), log=lambda message: None)
    with h5py.File(tmp_path / "out.h5") as f:
        x = {s: f[f"{s}/solution"][...] for s in ("plain", "eig")}
        reports = [f[f"eig/solves/{i}"].attrs for i in range(12)]
        assert all(r["converged"] and r["true_residual"] <= 1e-10 for r in reports)
        assert "eigCG phase" in reports[0]["solver"] and "init-CG, 32 vectors in U" in reports[11]["solver"]
        its = [int(r["iterations"]) for r in reports]
    assert 1.5 * max(its[4:]) <= its[0], its
    assert np.abs(x["eig"] - x["plain"]).max() <= 1e-8 * np.abs(x["plain"]).max()


BAD = {
    "n_ev": ('{ kind = "eigcg", n_ev = 0 }', "must be >= 1"),
    "search_dim": ('{ kind = "eigcg", n_ev = 8, search_dim = 16 }', "must be >= 2 n_ev + 1 = 17"),
    "rhs_for_eigcg": ('{ kind = "eigcg", rhs_for_eigcg = 0 }', "must be >= 1"),
    "tol_restart": ('{ kind = "eigcg", tol_restart = 2.0 }', "must lie in (0, 1)"),
    "eigensolver": ('{ kind = "eigcg", eigensolver = "tiny" }', "unknown precision 'tiny'"),
    "sloppy": ('{ kind = "eigcg", sloppy = "halff" }', "unknown precision 'halff'"),
    "n_kr": ('{ kind = "eigcg", n_kr = 10 }', "unknown"),
}


@pytest.mark.parametrize("key", sorted(BAD))
def test_bad_eigcg_keys(tmp_path, key):
    solver, piece = BAD[key]
    deck = write_deck(tmp_path / "deck.toml", SOLVER_BODY.format(solver=solver))
    with pytest.raises(DeckError) as info:
        Deck.load(deck)
    assert info.value.stage == "prop" and info.value.key == f"solver.{key}", str(info.value)
    assert piece in info.value.reason, info.value.reason
