"""A backend from an out-of-tree plugin runs a deck's solves without any change to operators or
solvers: its own kernel is called, the others come from the numpy reference, and the solution is bit
for bit the numpy backend's (the same arithmetic)."""

import os

import h5py
import numpy as np

from cli_helpers import GOOD_BODY, ROOT, hpcmix, write_deck

SOLVER = 'solver = { kind = "cg", tol = 1e-9 }'
SAVE = GOOD_BODY.replace(SOLVER, SOLVER + "\nsave_solution = true")
assert SAVE != GOOD_BODY


def test_plugin_backend_runs_a_deck(tmp_path):
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "deck_plugins"), os.environ.get("PYTHONPATH", "")])}
    solutions = {}
    for backend in ("numpy", "counting"):
        deck = write_deck(tmp_path / f"{backend}.toml", f'backend = "{backend}"\nplugins = ["counting_backend"]\n' + SAVE,
                          output=f"{backend}.h5")
        result = hpcmix("run", deck, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert (f"backend {backend}" in result.stdout)
        assert ("counting backend: lincomb runs here" in result.stdout) == (backend == "counting")
        with h5py.File(tmp_path / f"{backend}.h5") as f:
            solutions[backend] = f["prop/solution"][...]
    np.testing.assert_array_equal(solutions["counting"], solutions["numpy"])
