"""Thick-restart Lanczos on the even-odd Wilson-clover normal operator Mhat^dag Mhat (the operator even-odd
CG iterates on), on every backend's fields: the lowest eigenvalues equal numpy.linalg.eigh of the dense
operator (built column by column from the canonical numpy operator), with and without Chebyshev
acceleration, and every returned pair satisfies ||A v - lambda v|| <= tol ||A|| checked with the canonical
operator; the eigensolver precision stores the basis; bad parameters are refused by name."""

import numpy as np
import pytest

from hpcmix.errors import SolverError
from hpcmix.fields.full import FullField
from hpcmix.fields.gauge import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac
from hpcmix.precision import SINGLE
from hpcmix.solvers.trlm import TRLM

N_EV = 6


@pytest.fixture(scope="module")
def problem():
    """The dense Mhat^dag Mhat on even sites of a 4^4 weak field (1536 x 1536) and its eigenvalues."""
    lattice = Lattice([4, 4, 4, 4])
    dirac = WilsonDirac(GaugeField.weak(lattice, 2, 0.4), 0.05, csw=1.0)
    op = dirac.schur(0)[0].normal()
    even = np.broadcast_to((lattice.parity == 0)[..., None, None], lattice.shape + (4, 3))
    columns = []
    for index in np.argwhere(even):
        e = np.zeros(lattice.shape + (4, 3), complex)
        e[tuple(index)] = 1.0
        columns.append(op(e)[even])
    dense = np.array(columns).T
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


def test_parameters_are_checked():
    with pytest.raises(SolverError, match="n_kr >= n_ev \\+ 6"):
        TRLM(10, 12)
    with pytest.raises(SolverError, match="needs a_min"):
        TRLM(4, 16, poly_degree=8)
