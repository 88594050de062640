"""Deflation from a deck: a propagator with ``deflation = "eig"`` (an eigensolve stage of the same operator)
solves all 12 columns to the same true residual in fewer CG iterations than without; a deflation stage of
another operator, an unknown stage and an M^dag M solve are deck errors naming the key. Vectors saved by
one run deflate a later run's solves exactly as the stage did (``deflation = {file, dataset}``); saved
vectors of another operator are a deck error, of another gauge field an error of the run."""

import sys

import h5py
import numpy as np
import pytest

from cli_helpers import WEAK_GAUGE, hpcmix, write_deck
from mpi_helpers import run_mpi

OPERATOR = '{ kind = "wilson_clover", kappa = 0.128, csw = 1.0 }'
EIGEN = f"""
[[stage]]
name = "eig"
kind = "eigensolve"
operator = {OPERATOR}
n_ev = 16
n_kr = 32
tol = 1e-8
"""


def propagator(name, extra=""):
    return f"""
[[stage]]
name = "{name}"
kind = "propagator"
operator = {OPERATOR}
solver = {{ kind = "cg", tol = 1e-10 }}
save_solution = true
{extra}
"""


def test_deflated_propagator(tmp_path):
    deck = write_deck(tmp_path / "deck.toml", WEAK_GAUGE + EIGEN + propagator("plain")
                      + propagator("deflated", 'deflation = "eig"'))
    run = hpcmix("run", deck, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    with h5py.File(tmp_path / "out.h5") as f:
        its = {s: f[s].attrs["iterations"] for s in ("plain", "deflated")}
        x = {s: f[f"{s}/solution"][...] for s in ("plain", "deflated")}
        assert f["deflated"].attrs["deflation"] == "eig"
        assert all(f[f"deflated/solves/{i}"].attrs["true_residual"] <= 1e-10 for i in range(12))
        assert "deflated(" in f["deflated/solves/0"].attrs["solver"]
    assert its["deflated"] <= 0.85 * its["plain"], its        # 31 against 39 per column here
    assert np.abs(x["deflated"] - x["plain"]).max() <= 1e-8 * np.abs(x["plain"]).max()


@pytest.mark.parametrize("extra, message", [
    ('deflation = "nothing"', "no earlier eigensolve stage named 'nothing'"),
    ('deflation = "eig"\nsolve = "MdagM"', "deflation needs solve"),
])
def test_bad_deflation_is_a_deck_error(tmp_path, extra, message):
    deck = write_deck(tmp_path / "deck.toml", WEAK_GAUGE + EIGEN + propagator("prop", extra))
    check = hpcmix("check", deck, cwd=tmp_path)
    out = check.stdout + check.stderr
    assert check.returncode == 2 and "stage 'prop'" in out and "key 'deflation'" in out and message in out, out


def test_deflation_by_modes_of_another_operator_is_refused(tmp_path):
    other = EIGEN.replace("kappa = 0.128", "kappa = 0.12")
    deck = write_deck(tmp_path / "deck.toml", WEAK_GAUGE + other + propagator("prop", 'deflation = "eig"'))
    check = hpcmix("check", deck, cwd=tmp_path)
    out = check.stdout + check.stderr
    assert check.returncode == 2 and "key 'deflation'" in out and "another operator" in out, out


FILE_DEFLATION = 'deflation = { file = "first.h5", dataset = "eig/vectors" }'


@pytest.fixture(scope="module")
def saved_modes(tmp_path_factory):
    """A run that saves the modes (first.h5) and solves with them from the stage."""
    folder = tmp_path_factory.mktemp("saved")
    deck = write_deck(folder / "first.toml", WEAK_GAUGE + EIGEN + "save = true\n"
                      + propagator("deflated", 'deflation = "eig"'), output="first.h5")
    run = hpcmix("run", deck, cwd=folder)
    assert run.returncode == 0, run.stdout + run.stderr
    return folder


def test_deflation_from_a_file_of_an_earlier_run(saved_modes):
    deck = write_deck(saved_modes / "second.toml", WEAK_GAUGE + propagator("deflated", FILE_DEFLATION),
                      output="second.h5")
    run = hpcmix("run", deck, cwd=saved_modes)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "deflation: 16 modes from" in run.stdout + run.stderr
    with h5py.File(saved_modes / "first.h5") as first, h5py.File(saved_modes / "second.h5") as second:
        for i in range(12):
            assert (second[f"deflated/solves/{i}"].attrs["iterations"]
                    == first[f"deflated/solves/{i}"].attrs["iterations"])
        a, b = first["deflated/solution"][...], second["deflated/solution"][...]
        assert np.abs(a - b).max() <= 1e-9 * np.abs(a).max()


@pytest.mark.parametrize("change, message", [
    (("kappa = 0.128", "kappa = 0.12"), "holds the modes of operator"),
    (("eig/vectors", "eig/nothing"), "no dataset /eig/nothing"),
    (("first.h5", "missing.h5"), "file not found"),
])
def test_bad_deflation_file_is_a_deck_error(saved_modes, change, message):
    deck = write_deck(saved_modes / "bad.toml", WEAK_GAUGE + propagator("prop", FILE_DEFLATION).replace(*change),
                      output="bad.h5")
    check = hpcmix("check", deck, cwd=saved_modes)
    out = check.stdout + check.stderr
    assert check.returncode == 2 and "stage 'prop'" in out and "deflation." in out and message in out, out


def test_saved_modes_of_another_gauge_field_are_refused(saved_modes):
    deck = write_deck(saved_modes / "other.toml", WEAK_GAUGE.replace("seed = 5", "seed = 6")
                      + propagator("prop", FILE_DEFLATION), output="other.h5")
    run = hpcmix("run", deck, cwd=saved_modes)
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "are not eigenvectors of this operator" in out, out
    assert not (saved_modes / "other.h5").exists()


def test_eigcg_modes_saved_and_reused(tmp_path):
    """The space eigcg accumulates over a propagator's columns, saved with save_modes, deflates a later
    run's CG (fewer iterations than plain CG, the same solution)."""
    eigcg = propagator("learn", "save_modes = true").replace('kind = "cg", tol = 1e-10',
                                                             'kind = "eigcg", tol = 1e-10, n_ev = 8, search_dim = 24')
    first = write_deck(tmp_path / "first.toml", WEAK_GAUGE + eigcg, output="first.h5")
    run = hpcmix("run", first, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    with h5py.File(tmp_path / "first.h5") as f:
        n = len(f["learn/modes/eigenvalues"])
        assert n >= 8 and f["learn/modes/vectors"].shape[0] == n
        assert np.all(np.diff(f["learn/modes/eigenvalues"][...]) >= 0)
    second = write_deck(tmp_path / "second.toml", WEAK_GAUGE + propagator("plain") + propagator(
        "reuse", 'deflation = { file = "first.h5", dataset = "learn/modes/vectors" }'), output="second.h5")
    run = hpcmix("run", second, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    with h5py.File(tmp_path / "second.h5") as f:
        its = {s: f[s].attrs["iterations"] for s in ("plain", "reuse")}
        a, b = f["plain/solution"][...], f["reuse/solution"][...]
    assert its["reuse"] <= 0.85 * its["plain"], its
    assert np.abs(a - b).max() <= 1e-8 * np.abs(a).max()


def test_save_modes_needs_a_solver_that_has_them(tmp_path):
    deck = write_deck(tmp_path / "deck.toml", WEAK_GAUGE + propagator("prop", "save_modes = true"))
    check = hpcmix("check", deck, cwd=tmp_path)
    out = check.stdout + check.stderr
    assert check.returncode == 2 and "key 'save_modes'" in out and "accumulates no eigenvectors" in out, out


def test_modes_across_process_grids(saved_modes):
    """On 2 ranks the eigensolve finds the single-rank eigenvalues, and vectors saved by the single-rank run
    deflate the 2-rank solves column for column as they did there."""
    text = (saved_modes / "first.toml").read_text().replace('output = "first.h5"', 'output = "first2.h5"')
    deck = saved_modes / "first2.toml"
    deck.write_text(text + "\n[[stage]]\nname = \"fromfile\"\nkind = \"propagator\"\n"
                    f"operator = {OPERATOR}\nsolver = {{ kind = \"cg\", tol = 1e-10 }}\n{FILE_DEFLATION}\n")
    run = run_mpi(2, [sys.executable, "-m", "hpcmix", "run", str(deck)], cwd=saved_modes, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    with h5py.File(saved_modes / "first.h5") as one, h5py.File(saved_modes / "first2.h5") as two:
        lam = one["eig/eigenvalues"][...]
        assert np.abs(two["eig/eigenvalues"][...] - lam).max() <= 1e-9 * lam.max()
        for i in range(12):
            reference = one[f"deflated/solves/{i}"].attrs["iterations"]
            for stage in ("deflated", "fromfile"):
                assert abs(two[f"{stage}/solves/{i}"].attrs["iterations"] - reference) <= 1, (stage, i)
