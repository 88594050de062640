"""Deflation from a deck: a propagator with ``deflation = "eig"`` (an eigensolve stage of the same operator)
solves all 12 columns to the same true residual in fewer CG iterations than without; a deflation stage of
another operator, an unknown stage and an M^dag M solve are deck errors naming the key."""

import h5py
import numpy as np
import pytest

from cli_helpers import WEAK_GAUGE, hpcmix, write_deck

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
