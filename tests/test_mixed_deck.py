"""Mixed-precision solver keys in the deck: validation errors naming stage and key and listing what is
available, a propagator run reporting sloppy / reliable_updates / timings, and the out-of-tree
plugin hpcmix-lowfloat's float16 and bfloat16 as sloppy precisions."""

import importlib.util
import json
import os
import sys

import h5py
import numpy as np
import pytest

from cli_helpers import SOLVER_BODY, hpcmix, write_deck
from hpcmix.deck import Deck
from hpcmix.errors import DeckError
from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass
from hpcmix.registry import get_registry
from mpi_helpers import ROOT

PLUGIN_DIR = ROOT / "plugins" / "hpcmix-lowfloat"
TOL = 1e-9

BODY = SOLVER_BODY + "save_solution = true\n"

#: the field precisions the error messages list: the built-ins and those of installed plugins
FIELD_PRECISIONS = ", ".join(e.name for e in get_registry().entries("precisions")
                             if getattr(e.obj, "role", "field") == "field")

BAD = {
    "unknown_sloppy": ('{ kind = "cg", sloppy = "halff" }', "solver.sloppy",
                       ["unknown precision 'halff'", FIELD_PRECISIONS]),
    "unknown_precision": ('{ kind = "bicgstab", precision = "fp32" }', "solver.precision",
                          ["not a field precision 'fp32'", FIELD_PRECISIONS]),
    "reconstruct": ('{ kind = "cg", reconstruct = 9 }', "solver.reconstruct", ["reconstruct 9", "18, 12, 8"]),
    "reconstruct_sloppy": ('{ kind = "cg", sloppy = "half", reconstruct_sloppy = 9 }', "solver.reconstruct_sloppy",
                           ["precision 'half' cannot store links with reconstruct 9", "18, 12, 8"]),
    "sloppy_finer": ('{ kind = "cg", precision = "half", sloppy = "single" }', "solver.sloppy", ["more precise"]),
    "preconditioner": ('{ kind = "gcr", sloppy = "half", precision_preconditioner = "eighth", '
                       'preconditioner = { kind = "mr", maxiter = 4 } }', "solver.precision_preconditioner",
                       ["unknown precision 'eighth'"]),
    "eigensolver": ('{ kind = "cg", eigensolver = "tiny" }', "solver.eigensolver", ["unknown precision 'tiny'"]),
    "alternative": ('{ kind = "bicgstab", sloppy = "half", alternative_reliable = true }',
                    "solver.alternative_reliable", ["van der Vorst-Ye"]),
    "delta": ('{ kind = "cg", reliable_delta = 1.5 }', "solver.reliable_delta", ["[0, 1)"]),
    "inner": ('{ kind = "defect_correction", sloppy = "half", inner = { kind = "cg", sloppy = "x" } }',
              "solver.inner.sloppy", ["unknown precision 'x'"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_mixed_keys(tmp_path, case):
    solver, key, pieces = BAD[case]
    deck = write_deck(tmp_path / "deck.toml", BODY.format(solver=solver))
    with pytest.raises(DeckError) as info:
        Deck.load(deck)
    assert info.value.stage == "prop" and info.value.key == key, str(info.value)
    for piece in pieces:
        assert piece in info.value.reason, (piece, info.value.reason)


def check_solutions(path, stages):
    """Every saved solution of ``stages`` solves M x = b (point source at the origin) to TOL with the
    double operator, and its reports name the sloppy precision."""
    lattice = Lattice([4, 4, 4, 4])
    dirac = WilsonDirac(GaugeField.weak(lattice, 5, 0.2), kappa_to_mass(0.12), csw=1.0)
    with h5py.File(path) as f:
        for stage, sloppy in stages.items():
            solution = f[f"{stage}/solution"][...]
            for k in range(12):
                b = lattice.zeros((4, 3))
                b[(0, 0, 0, 0) + divmod(k, 3)] = 1
                x = solution[..., k // 3, k % 3]
                assert np.sqrt(lattice.norm2(b - dirac.M(x))) <= TOL
            report = f[f"{stage}/solves/0"].attrs
            assert report["sloppy"] == sloppy and report["converged"]
            assert report["reliable_updates"] > 0 and sloppy in json.loads(report["timings"])
            assert json.loads(report["fallbacks"]) == []      # JSON text, empty or not


def test_mixed_propagator_run(tmp_path):
    deck = write_deck(tmp_path / "deck.toml", BODY.format(
        solver='{ kind = "cg", tol = 1e-9, sloppy = "half", reconstruct = 12, reconstruct_sloppy = 8 }'))
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    check_solutions(tmp_path / "out.h5", {"prop": "half"})


def test_lowfloat_plugin_as_sloppy(tmp_path):
    """float16 (CG, reliable updates) and bfloat16 (BiCGstab) from the out-of-tree plugin, named in
    the deck's [run] plugins and imported from the plugin's source folder."""
    body = BODY.format(solver='{ kind = "cg", tol = 1e-9, sloppy = "float16", reconstruct_sloppy = 12 }')
    body += """
[[stage]]
name = "prop_bf16"
kind = "propagator"
operator = { kind = "wilson_clover", kappa = 0.12, csw = 1.0 }
solver = { kind = "bicgstab", tol = 1e-9, sloppy = "bfloat16" }
save_solution = true
"""
    deck = write_deck(tmp_path / "deck.toml", 'plugins = ["hpcmix_lowfloat.plugin"]\n' + body)
    env = {"PYTHONPATH": os.pathsep.join([str(PLUGIN_DIR), str(ROOT)])}
    result = hpcmix("run", deck, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    check_solutions(tmp_path / "out.h5", {"prop": "float16", "prop_bf16": "bfloat16"})
    # without the plugin the same names are unknown, and the error lists the known precisions
    sys.path.insert(0, str(PLUGIN_DIR))
    try:
        loaded = Deck.load(deck, overwrite=True)
        assert loaded.stages[1].cfg["solver"]["sloppy"] == "float16"
    finally:
        sys.path.remove(str(PLUGIN_DIR))
    if importlib.util.find_spec("hpcmix_lowfloat") is None:         # not installed here: unknown
        plain = write_deck(tmp_path / "plain.toml", body)
        with pytest.raises(DeckError, match="unknown precision 'float16'"):
            Deck.load(plain, overwrite=True)


def test_example_deck_validates(shared_data):
    """inputs/mixed_l8888.toml (the real configuration beside the checkout) is a valid deck."""
    if not (ROOT.parent / "shared" / "data" / "gauge" / "milc" / "lat.sample.l8888").is_file():
        pytest.skip("the example deck's configuration is not beside the checkout")
    deck = Deck.load(ROOT / "inputs" / "mixed_l8888.toml")
    solvers = {s.name: s.cfg["solver"] for s in deck.stages if s.kind == "propagator"}
    assert solvers["wilson"]["sloppy"] == "half" and solvers["wilson"]["reconstruct_sloppy"] == 12
    clover = solvers["clover"]
    assert clover["precision_preconditioner"] == "half" and clover["preconditioner"]["kind"] == "mr"
