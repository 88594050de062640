"""Thick-restart Lanczos on the even-odd Wilson-clover normal operator Mhat^dag Mhat (the operator even-odd
CG iterates on), on every backend's fields: the lowest eigenvalues equal numpy.linalg.eigh of the dense
operator (built column by column from the canonical numpy operator), with and without Chebyshev
acceleration, and every returned pair satisfies ||A v - lambda v|| <= tol ||A|| checked with the canonical
operator; the eigensolver precision stores the basis; the same on the canonical numpy operator (Lanczos
started on even sites) and, on whole-lattice fields, for M^dag M of the whole system, there with LowModes'
projection; bad parameters are refused by name."""

import numpy as np
import pytest

from hpcmix.errors import SolverError
from hpcmix.fields.full import FullField
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import SINGLE
from hpcmix.solvers.deflate import LowModes
from hpcmix.solvers.trlm import TRLM
from lattice_helpers import dense_even, random_spinor

N_EV = 6


@pytest.fixture(scope="module")
def problem():
    """The dense Mhat^dag Mhat on even sites of a 4^4 weak field (1536 x 1536) and its eigenvalues."""
    lattice = Lattice([4, 4, 4, 4])
    dirac = WilsonDirac(GaugeField.weak(lattice, 2, 0.4), 0.05, csw=1.0)
    op = dirac.schur(0)[0].normal()
    dense, even = dense_even(op, lattice)
    return lattice, dirac, op, even, np.linalg.eigvalsh(dense)


def canonical(f, v):
    return f.export_field(FullField(v, f.spaces[1].zeros_like(v)))


@pytest.mark.parametrize("chebyshev", [False, True], ids=["plain", "chebyshev"])
def test_lowest_eigenpairs_match_dense_eigh(problem, backend, chebyshev):
    lattice, dirac, op, even, exact = problem
    f = dirac.on_backend(backend)
    kw = {"poly_degree": 8, "a_min": float(exact[30])} if chebyshev else {}
    res = TRLM(N_EV, 20, tol=1e-10, **kw).solve(f.schur(0)[0].normal())
    assert res.converged and res.matvecs > 0
    assert np.abs(res.eigenvalues - exact[:N_EV]).max() <= 1e-10 * exact[-1]
    assert np.all(np.diff(res.eigenvalues) >= 0)
    for i, lam in enumerate(res.eigenvalues):                     # the canonical operator's own check
        v = canonical(f, res.vectors[i])
        assert abs(np.vdot(v, v) - 1) <= 1e-12
        assert np.sqrt(lattice.norm2(op(v) - lam * v)) <= 1e-10 * exact[-1]
    if chebyshev:
        assert res.matvecs < 2000
    else:                                         # the lowest modes converged first and were locked
        assert res.restarts > 1 and 0 < res.locked < N_EV, (res.restarts, res.locked)


def test_single_precision_basis(problem, backend):
    """The basis stored in single: eigenvalues to single precision, residuals checked against tol."""
    lattice, dirac, op, even, exact = problem
    f = dirac.on_backend(backend)
    res = TRLM(N_EV, 20, tol=1e-5, precision=SINGLE).solve(f.schur(0)[0].normal())
    assert res.vectors.precision is SINGLE and res.converged
    assert np.abs(res.eigenvalues - exact[:N_EV]).max() <= 1e-5 * exact[-1]
    assert np.all(res.residuals <= 1e-5)


def test_canonical_operator(problem):
    """On canonical arrays (an ArrayBlock basis), from a start vanishing on odd sites, where the Schur
    complement acts: the dense eigenvalues, each pair checked."""
    lattice, dirac, op, even, exact = problem
    start = random_spinor(lattice, 4) * even
    res = TRLM(N_EV, 20, tol=1e-10).solve(op, start)
    assert res.converged and np.abs(res.eigenvalues - exact[:N_EV]).max() <= 1e-10 * exact[-1]
    for i, lam in enumerate(res.eigenvalues):
        v = res.vectors[i]
        assert abs(np.vdot(v, v) - 1) <= 1e-12 and not v[~even].any()
        assert np.sqrt(lattice.norm2(op(v) - lam * v)) <= 1e-10 * exact[-1]


@pytest.fixture(scope="module")
def whole():
    """M of a 4 x 2 x 2 x 4 weak field, the eigenvalues of its dense M^dag M (768 x 768) and a source."""
    lattice = Lattice([4, 2, 2, 4])
    dirac = WilsonDirac(GaugeField.weak(lattice, 3, 0.4), 0.05, csw=1.0)
    columns = []
    for index in np.ndindex(lattice.shape + (4, 3)):
        e = np.zeros(lattice.shape + (4, 3), complex)
        e[index] = 1.0
        columns.append(dirac.M(e).ravel())
    dense = np.array(columns).T
    return dirac, np.linalg.eigvalsh(dense.conj().T @ dense), random_spinor(lattice, 5)


def test_whole_system_normal_operator(whole, backend):
    """M^dag M on whole-lattice fields (a FullBlock basis): the dense eigenvalues, each pair checked with the
    canonical M; LowModes.correct on whole-lattice fields is the dense projection V Lambda^-1 V^dag."""
    dirac, exact, b = whole
    f = dirac.on_backend(backend)
    res = TRLM(N_EV, 20, tol=1e-10).solve(f.operator().normal())
    assert res.converged and np.abs(res.eigenvalues - exact[:N_EV]).max() <= 1e-10 * exact[-1]
    for i, lam in enumerate(res.eigenvalues):
        v = f.export_field(res.vectors[i])
        assert abs(np.vdot(v, v) - 1) <= 1e-12
        assert np.linalg.norm(dirac.Mdag(dirac.M(v)) - lam * v) <= 1e-10 * exact[-1]
    V = np.stack([f.export_field(res.vectors[i]).ravel() for i in range(N_EV)], axis=1)
    x = LowModes(res).correct(f.space, f.import_field(b), f.space.zeros_like(f.import_field(b)))
    want = V @ ((V.conj().T @ b.ravel()) / res.eigenvalues)
    assert np.abs(f.export_field(x).ravel() - want).max() <= 1e-12 * np.abs(want).max()


def test_parameters_are_checked():
    with pytest.raises(SolverError, match="n_kr >= n_ev \\+ 6"):
        TRLM(10, 12)
    with pytest.raises(SolverError, match="needs a_min"):
        TRLM(4, 16, poly_degree=8)
