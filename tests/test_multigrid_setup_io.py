"""Persistence and reuse of a multigrid setup (issue 10 item 4): ``setup = {save, load, refresh}``.

Truth: a saved setup read back gives the same transfer basis and coarse operators bit for bit and so the same
MG-GCR iterations and solution bit for bit; a file made with other parameters, on another lattice, or for another
operator is not used (the setup is built afresh, with a warning naming the first differing key, and equals a
fresh build bit for bit); a corrupted dataset, a file of another format and one that is not HDF5 are errors
naming the file; after a small change of the gauge field a refreshed setup needs fewer outer iterations than the
stale one. The deck declares the table (paths resolved against the deck's folder, bad keys named), and a
propagator deck builds, reuses and rebuilds one file. Across process grids: tests/mpi/test_multigrid_mpi.py.
"""

import json

import h5py
import numpy as np
import pytest

from hpcmix.errors import DeckError, FormatError
from hpcmix.fields.gauge import GaugeField
from hpcmix.io.warn import HpcmixWarning
from hpcmix.lattice import Lattice
from hpcmix.operators.wilson import WilsonDirac, kappa_to_mass
from hpcmix.params import Validator
from hpcmix.registry import get_registry
from hpcmix.solvers.gcr import GCR
from hpcmix.solvers.multigrid import Multigrid

from cli_helpers import WEAK_GAUGE, hpcmix, write_deck
from lattice_helpers import global_random

LEVELS = [{"block": [2, 2, 2, 2], "n_vec": 6}, {"block": [2, 2, 2, 2], "n_vec": 4}]
LATTICE = Lattice([4, 4, 4, 4])
TOL = 1e-10


def fields(backend, epsilon=0.5, kappa=0.15):
    """Clover on a weak field exp(i epsilon H) (H fixed: epsilon changes the field smoothly)."""
    dirac = WilsonDirac(GaugeField.weak(LATTICE, 9, epsilon), kappa_to_mass(kappa), csw=1.0)
    return dirac.on_backend(backend)


@pytest.fixture(scope="module")
def rhs():
    return global_random(LATTICE.shape + (4, 3), 10)


def multigrid(f, **kw):
    mg = Multigrid(levels=kw.pop("levels", LEVELS), setup_maxiter=20, **kw)
    mg.setup(f)
    return mg


def solve(f, mg, b):
    return GCR(tol=TOL, nkrylov=16, maxiter=100, preconditioner=mg).solve(f.operator(), f.import_field(b))


def arrays(mg):
    """Every array of a setup: each level's block basis, X and the 8 Y."""
    return [a for lev in mg.hierarchy.levels
            for a in [lev.transfer.basis, lev.coarse.X] + [y for pair in lev.coarse.Y for y in pair]]


def same_setup(a, b):
    return all(np.array_equal(x, y) for x, y in zip(arrays(a), arrays(b), strict=True))


@pytest.fixture(scope="module")
def saved(tmp_path_factory, backend, rhs):
    """(file, the multigrid that saved it, its MG-GCR result)."""
    path = tmp_path_factory.mktemp("mg") / "mg.h5"
    f = fields(backend)
    mg = multigrid(f, setup={"save": str(path)})
    return path, mg, solve(f, mg, rhs)


def test_saved_setup_reloads_bitwise(saved, backend, rhs):
    path, mg, res = saved
    f = fields(backend)
    loaded = multigrid(f, setup={"load": str(path)})
    assert loaded.hierarchy.origin == "loaded" and loaded.note == f"loaded from {path}"
    assert all(lev.stats["null_vector_iterations"] == 0 for lev in loaded.hierarchy.levels)
    assert same_setup(loaded, mg)
    again = solve(f, loaded, rhs)
    assert again.converged and again.iterations == res.iterations
    assert np.array_equal(f.export_field(again.x), f.export_field(res.x))


@pytest.mark.parametrize("change, key", [({"seed": 1}, "seed = 0"),
                                         ({"levels": LEVELS[:1] + [{"block": [2, 2, 2, 2], "n_vec": 3}]},
                                          r"levels\[1\].n_vec = 4"),
                                         ({"setup_tol": 1e-4}, "setup_tol = 5e-06")])
def test_changed_parameter_rebuilds(saved, backend, change, key):
    """A setup made with other parameters is not used: a warning names the first differing key (with the file's
    value), and the setup is the one built afresh."""
    path, _, _ = saved
    f = fields(backend)
    with pytest.warns(HpcmixWarning, match=f"{path} holds a setup made with {key}"):
        mg = multigrid(f, setup={"load": str(path)}, **change)
    assert mg.hierarchy.origin == "built"
    assert same_setup(mg, multigrid(f, **change))


def test_corrupted_file_is_an_error_naming_it(saved, backend, tmp_path):
    path, _, _ = saved
    bad = tmp_path / "bad.h5"
    bad.write_bytes(path.read_bytes())
    with h5py.File(bad, "r+") as h5:
        h5["level1/Y"][0, 0, 0, 0, 2, 1, 3, 3] += 1e-14
    with pytest.raises(FormatError, match=f"{bad}: /level1/Y: checksum mismatch"):
        multigrid(fields(backend), setup={"load": str(bad)})
    with h5py.File(bad, "w") as h5:
        h5.attrs["format"] = "hpcmix-gauge"
    with pytest.raises(FormatError, match=f"{bad}: not a multigrid setup"):
        multigrid(fields(backend), setup={"load": str(bad)})
    bad.write_bytes(b"not HDF5")
    with pytest.raises(FormatError, match=f"{bad}: cannot read as HDF5"):
        multigrid(fields(backend), setup={"load": str(bad)})


def test_another_lattice_rebuilds(saved, backend):
    path, _, _ = saved
    lattice = Lattice([4, 4, 4, 8])
    f = WilsonDirac(GaugeField.weak(lattice, 9, 0.5), kappa_to_mass(0.15), csw=1.0).on_backend(backend)
    with pytest.warns(HpcmixWarning, match=r"made with lattice\[3\] = 4, this one has 8"):
        assert multigrid(f, setup={"load": str(path)}).hierarchy.origin == "built"


def test_save_never_replaces_another_file(saved, backend):
    path, _, _ = saved
    with pytest.raises(FormatError, match=f"{path}: file exists"):
        multigrid(fields(backend), setup={"save": str(path)})


def test_load_and_save_one_file_keeps_it_current(backend, tmp_path):
    """load = save: the first run builds and writes it, the next reads it; a changed parameter rebuilds and
    replaces it."""
    path = str(tmp_path / "mg.h5")
    f = fields(backend)
    first = multigrid(f, setup={"load": path, "save": path})
    assert first.hierarchy.origin == "built" and "no saved setup" in first.note
    assert multigrid(f, setup={"load": path, "save": path}).hierarchy.origin == "loaded"
    with pytest.warns(HpcmixWarning, match="seed = 0"):
        multigrid(f, setup={"load": path, "save": path}, seed=3)
    assert multigrid(f, setup={"load": path}, seed=3).hierarchy.origin == "loaded"


def test_refresh_after_a_gauge_change(saved, backend, rhs):
    """On a slightly changed gauge field (epsilon 0.5 -> 0.6), the stale setup (made for the old field, smoother
    included) needs more outer iterations than the setup refreshed from the file with 2 setup iterations per vector
    (16 against 8 here; a fresh setup needs 9); without refresh the file is not used (another operator: the
    warning says which key, or the gauge field) and the setup is built afresh."""
    path, mg_old, _ = saved
    new = fields(backend, 0.6)
    stale = GCR(tol=TOL, nkrylov=16, maxiter=100, preconditioner=mg_old).solve(new.operator(), new.import_field(rhs))
    refreshed = multigrid(new, setup={"load": str(path), "refresh": 2})
    assert refreshed.hierarchy.origin == "refreshed" and "another gauge field" in refreshed.note
    assert 0 < refreshed.hierarchy.levels[0].stats["null_vector_iterations"] <= 2 * LEVELS[0]["n_vec"]
    res = solve(new, refreshed, rhs)
    assert stale.converged and res.converged
    assert res.iterations < stale.iterations, (res.iterations, stale.iterations)
    with pytest.warns(HpcmixWarning, match="another operator .another gauge field"):
        assert multigrid(new, setup={"load": str(path)}).hierarchy.origin == "built"
    with pytest.warns(HpcmixWarning, match=r"another operator \(kappa 0.15\d* there, 0.14\d* here\)"):
        assert multigrid(fields(backend, kappa=0.14), setup={"load": str(path)}).hierarchy.origin == "built"


def test_deck_declares_the_setup_table(tmp_path):
    """Paths resolve against the deck's folder; an unknown key, a load that is missing, a save over an existing
    file and a refresh without a load are errors naming the key."""
    v = Validator(get_registry(), base_dir=tmp_path)

    def check(setup):
        table = {"kind": "multigrid", "setup": setup}
        return v.component("solvers", table, stage="prop", key="solver.preconditioner")["setup"]

    assert check({"save": "out/mg.h5"}) == {"save": str(tmp_path / "out/mg.h5"), "load": None, "refresh": None}
    assert check({"load": "mg.h5", "save": "mg.h5", "refresh": 2})["load"] == str(tmp_path / "mg.h5")
    (tmp_path / "old.h5").write_bytes(b"")
    for setup, key, message in [({"sav": "x.h5"}, "setup.sav", "unknown key"),
                                ({"load": "none.h5"}, "setup.load", "file not found"),
                                ({"save": "old.h5"}, "setup.save", "exists"),
                                ({"save": "x.h5", "refresh": 2}, "setup.refresh", "give setup.load"),
                                ({"load": "old.h5", "refresh": 0}, "setup.refresh", "must be >= 1"),
                                ("mg.h5", "setup", "expected a table")]:
        with pytest.raises(DeckError, match=message) as info:
            check(setup)
        assert info.value.key == f"solver.preconditioner.{key}", (setup, info.value.key)


def test_a_propagator_deck_saves_and_reloads_its_setup(tmp_path):
    """``setup = {load = "mg.h5", save = "mg.h5"}`` in a deck (relative to the deck's folder), in three propagator
    stages of one run: the first builds and writes the setup, the second reads it and gives the same 12 solutions
    bit for bit, the third has another seed and rebuilds it, with a warning naming the key."""

    def stage(name, seed):
        mg = (f'{{ kind = "multigrid", levels = [{{ block = [2, 2, 2, 2], n_vec = 6 }}], seed = {seed}, '
              f'setup = {{ load = "mg.h5", save = "mg.h5" }} }}')
        return f"""
[[stage]]
name = "{name}"
kind = "propagator"
operator = {{ kind = "wilson_clover", kappa = 0.125, csw = 1.0 }}
solver = {{ kind = "gcr", tol = 1e-10, nkrylov = 16, preconditioner = {mg} }}
evenodd = false
save_solution = true
"""

    deck = write_deck(tmp_path / "deck.toml", WEAK_GAUGE + stage("a", 0) + stage("b", 0) + stage("c", 1))
    result = hpcmix("run", deck, cwd=tmp_path)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert (tmp_path / "mg.h5").is_file()
    assert "holds a setup made with seed = 0, this one has 1" in log, log
    with h5py.File(tmp_path / "out.h5") as f:
        assert np.array_equal(f["a/solution"][...], f["b/solution"][...])
        relaxed = {s: json.loads(f[f"{s}/multigrid/0"].attrs["levels"])[0]["null_vector_iterations"] for s in "abc"}
    assert relaxed["a"] > 0 and relaxed["b"] == 0 and relaxed["c"] > 0, relaxed     # b read its setup
