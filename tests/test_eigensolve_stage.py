"""The eigensolve stage from a deck: the lowest eigenpairs of the even-odd normal operator (Wilson-clover
Mhat^dag Mhat, asqtad M^dag M on even sites), written as eigenvalues, residuals and canonical vectors
that the canonical numpy operators confirm (A v = lambda v to tol, zero on odd sites, orthonormal, the
stored CRC32 right); bad Chebyshev tables are deck errors naming the key."""

import json
import zlib

import h5py
import numpy as np
import pytest

from cli_helpers import WEAK_GAUGE, hpcmix, write_deck
from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.asqtad_links import asqtad_coefficients
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass

#: kind: (deck table, the canonical Hermitian operator on the deck's gauge field: weak, seed 5, epsilon 0.2)
OPERATORS = {
    "wilson_clover": ('{ kind = "wilson_clover", kappa = 0.12, csw = 1.0 }',
                      lambda g: WilsonDirac(g, kappa_to_mass(0.12), csw=1.0).schur(0)[0].normal()),
    "asqtad": ('{ kind = "asqtad", mass = 0.05, u0 = 0.9 }',
               lambda g: StaggeredDirac(g, 0.05, coefficients=asqtad_coefficients(0.9)).normal),
}


@pytest.mark.parametrize("kind", list(OPERATORS))
def test_eigenpairs_from_a_deck(tmp_path, kind):
    spec, canonical = OPERATORS[kind]
    deck = write_deck(tmp_path / "deck.toml", WEAK_GAUGE + f"""
[[stage]]
name = "eig"
kind = "eigensolve"
operator = {spec}
n_ev = 4
n_kr = 20
tol = 1e-9
save = true
""")
    run = hpcmix("run", deck, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    with h5py.File(tmp_path / "out.h5") as f:
        lam, res, vec = f["eig/eigenvalues"][...], f["eig/residuals"][...], f["eig/vectors"]
        assert vec.attrs["crc32"] == zlib.crc32(vec[...].tobytes())
        assert json.loads(vec.attrs["operator"])["kind"] == kind and f["eig"].attrs["converged"]
        vectors, f_norm = vec[...], f["eig"].attrs["norm_estimate"]
    assert np.all(np.diff(lam) >= 0) and np.all(res <= 1e-9)
    lattice = Lattice([4, 4, 4, 4])
    apply = canonical(GaugeField.weak(lattice, 5))
    odd = lattice.parity == 1
    for v, value in zip(vectors, lam):
        assert np.all(v[odd] == 0) and abs(np.vdot(v, v) - 1) <= 1e-12
        assert np.sqrt(lattice.norm2(apply(v) - value * v)) <= 1e-9 * f_norm
    flat = vectors.reshape(len(lam), -1)
    gram = flat.conj() @ flat.T
    assert np.abs(gram - np.eye(len(lam))).max() <= 1e-10


@pytest.mark.parametrize("table, key", [("{ degree = 6 }", "chebyshev"), ("{ degree = 6, a_min = 0.5, bogus = 1 }",
                                                                           "chebyshev.bogus"),
                                        ("{ degree = 6, a_min = 2.0, a_max = 1.0 }", "chebyshev")])
def test_bad_chebyshev_tables_are_deck_errors(tmp_path, table, key):
    deck = write_deck(tmp_path / "deck.toml", WEAK_GAUGE + f"""
[[stage]]
name = "eig"
kind = "eigensolve"
operator = {{ kind = "wilson", kappa = 0.12 }}
chebyshev = {table}
""")
    check = hpcmix("check", deck, cwd=tmp_path)
    out = check.stdout + check.stderr
    assert check.returncode == 2 and "stage 'eig'" in out and f"key '{key}'" in out, out
