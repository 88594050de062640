"""MILC's asqtad inversion on lat.sample.l8 reproduced (../shared/data/fermion; skipped where absent):
x = M^-1 b and x = (M^dag M)^-1 b with mass 0.1, u0 = 0.502, antiperiodic time, to single precision,
through the deck inputs/asqtad_milc.toml. MILC's CG took 61 iterations on M^dag M (|r|^2/|b|^2 = 1e-18)."""

from pathlib import Path

import h5py
import numpy as np

from hpcmix.deck import Deck
from hpcmix.io.ildg import ILDGGaugeFormat
from hpcmix.io.scidac_vector import read_vector
from hpcmix.lattice import Lattice
from hpcmix.operators.asqtad_links import asqtad_coefficients
from hpcmix.operators.staggered import StaggeredDirac
from hpcmix.pipeline import run_deck

DECK = Path(__file__).resolve().parents[1] / "inputs" / "asqtad_milc.toml"
MILC_PATH_COEFFICIENTS = [0.625, -0.1653413, -0.2480119, 0.2460397, -0.1627221, -0.9841587]
MILC_ITERATIONS = 61


def milc_vectors(shared_data, lattice):
    folder = shared_data / "fermion"
    return [read_vector(folder / f"ksvector.{name}.sample.l8", lattice)
            for name in ("src", "ans.Minv", "ans.MdaggerMinv")]


def relative(a, b, lattice):
    return np.sqrt(lattice.norm2(a - b) / lattice.norm2(b))


def test_milc_solutions_solve_our_operator(shared_data):
    """MILC's single-precision answers leave residuals of single-precision size with our M and M^dag M,
    for the coefficients from u0 and for MILC's printed ones (7 digits) alike."""
    lattice = Lattice([8, 8, 8, 8])
    gauge = ILDGGaugeFormat().read(shared_data / "gauge" / "lime" / "lat.sample.l8", lattice)
    b, x_minv, x_normal = milc_vectors(shared_data, lattice)
    for coefficients in (asqtad_coefficients(0.502), MILC_PATH_COEFFICIENTS):
        d = StaggeredDirac(gauge, 0.1, (1, 1, 1, -1), coefficients)
        assert relative(d.M(x_minv), b, lattice) < 5e-7
        assert relative(d.normal(x_normal), b, lattice) < 5e-7


def test_deck_reproduces_milcs_inversions(shared_data, tmp_path, capsys):
    text = DECK.read_text().replace("../../shared/data/", f"{shared_data}/")
    text = text.replace('output = "out/asqtad_milc.h5"', f'output = "{tmp_path / "milc.h5"}"')
    deck_file = tmp_path / "asqtad_milc.toml"
    deck_file.write_text(text)
    run_deck(Deck.load(deck_file), log=lambda message: None)
    lattice = Lattice([8, 8, 8, 8])
    _, x_minv, x_normal = milc_vectors(shared_data, lattice)
    with h5py.File(tmp_path / "milc.h5", "r") as f:
        minv, normal = f["minv/solution"][..., 0], f["mdagminv/solution"][..., 0]
        its = {stage: int(f[f"{stage}/solves/0"].attrs["iterations"]) for stage in ("minv", "mdagminv")}
        assert all(f[f"{stage}/solves/0"].attrs["converged"] for stage in its)
    diff_minv, diff_normal = relative(minv, x_minv, lattice), relative(normal, x_normal, lattice)
    with capsys.disabled():
        print(f"\nMILC asqtad inversion: |x - x_MILC| / |x_MILC| = {diff_minv:.2e} (M^-1 b), {diff_normal:.2e} "
              f"((M^dag M)^-1 b); CG iterations {its['minv']} (M, even-odd), {its['mdagminv']} (M^dag M, both "
              f"parities); MILC: {MILC_ITERATIONS} per parity")
    assert diff_minv < 1e-6 and diff_normal < 1e-6
    assert its["mdagminv"] <= 2 * (MILC_ITERATIONS + 3)
