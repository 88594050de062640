"""The dense_solve stage: deck validation, results written, files relative to the deck, the plugin
registration, and consistent results and errors on several MPI ranks."""

import json
import re
import sys
import textwrap
from types import SimpleNamespace

import h5py
import numpy as np
import pluggy
import pytest

from hpcmix import dense, hookspecs
from hpcmix.backends.numpy_backend import NumpyBackend
from hpcmix.dense import formats, plugin
from hpcmix.errors import DeckError, HpcmixError, SolverError
from hpcmix.io.results import ResultsFile
from hpcmix.params import Validator
from hpcmix.registry import Registry
from hpcmix.stages.base import Context
from hpcmix.stages.dense_solve import DenseSolveStage

from mpi_helpers import ROOT, run_mpi


@pytest.fixture(scope="module")
def registry():
    """A registry holding just the dense plugin (and a test plugin adding one more format)."""
    pm = pluggy.PluginManager("hpcmix")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, name="hpcmix.dense.plugin")

    class Extra:
        @hookspecs.hookimpl
        def precisions(self):
            return [formats.FactorizationPrecision("e8m5", description="8 exponent bits, 5 fraction bits",
                                                   significand_bits=6, max_value=(2 - 2.0**-5) * 2.0**127,
                                                   round_real=formats.fp32_range_rounder(5), bytes_per_real=2)]
    pm.register(Extra(), name="extra")
    return Registry(pm)


def configure(table, registry=None, base_dir="."):
    """What the deck loader does: the declared keys with defaults filled in, then validate_config."""
    v = Validator(registry, file="deck.toml", base_dir=base_dir)
    cfg = v.table(DenseSolveStage.params, table, stage="dense")
    problem = DenseSolveStage.validate_config(cfg, registry)
    if problem:
        raise DeckError(problem[1], file="deck.toml", stage="dense", key=problem[0])
    return cfg


def run_stage(tmp_path, table, registry=None, name="dense", logs=None, backend=None):
    out = tmp_path / "out.h5"
    results = ResultsFile(out, overwrite=True).open()
    logs = [] if logs is None else logs
    ctx = Context(lattice=None, registry=registry, backend=backend or NumpyBackend(), results=results,
                  deck=SimpleNamespace(base_dir=tmp_path, path=tmp_path / "deck.toml"), log=logs.append)
    ctx.stage = name
    try:
        result = DenseSolveStage().run(ctx, configure(table, registry, tmp_path))
    finally:
        results.commit()
    return result, out, logs


def test_registry_has_the_precisions_and_the_stage(registry):
    names = registry.names("precisions")
    assert {"fp64", "fp32", "tf32", "bf16", "fp16", "fp16-scaled", "e8m5"} <= set(names)
    assert registry.lookup("stages", "dense_solve") is DenseSolveStage
    assert formats.lookup("e8m5", registry).unit_roundoff == 2.0**-6
    A = dense.hpl_mxp(60, seed=1)
    res = dense.solve(A, dense.random_rhs(60), "e8m5", "gmres", registry=registry)
    assert res.code == dense.SUCCESS and res.backward_error <= 16


def test_generator_deck_writes_the_report(tmp_path, registry):
    table = {"matrix": {"generator": "randsvd", "n": 120, "cond": 1e6, "mode": 3, "seed": 1},
             "factorization": "fp32", "refinement": "classical"}
    result, out, logs = run_stage(tmp_path, table, registry)
    assert result.converged and not result.fell_back
    with h5py.File(out) as f:
        g = f["dense"]
        A = dense.randsvd(120, 1e6, 3, seed=1)
        b = dense.random_rhs(120)
        np.testing.assert_array_equal(g["x"][()], result.x)
        assert dense.hpl_mxp_ratio(A, g["x"][()], b) <= 16
        for key in ("niters", "backward_error", "fell_back", "seconds", "factorization_seconds", "code", "n"):
            assert key in g.attrs
        assert g.attrs["backward_error"] == pytest.approx(dense.hpl_mxp_ratio(A, result.x, b))
        assert g.attrs["n"] == 120 and g.attrs["niters"] == result.niters and not g.attrs["fell_back"]
        assert g.attrs["backend"] == "numpy"
        np.testing.assert_array_equal(g["history"][()], result.history)
        assert "randsvd matrix (n=120, cond=1000000.0, mode=3" in g.attrs["matrix"]
    assert "fp32 LU + classical refinement: converged" in logs[0]


def test_the_lu_runs_on_the_runs_backend(tmp_path):
    """The stage factors on ctx.backend (the deck's [run] backend), and names it in the report."""
    class Recording(NumpyBackend):
        name = "recording"

        def __init__(self):
            super().__init__()
            self.asked = 0

        def dense_kernels(self):
            self.asked += 1
            return super().dense_kernels()

    backend = Recording()
    result, out, _ = run_stage(tmp_path, {"matrix": {"generator": "hpl_mxp", "n": 40}, "factorization": "bf16"},
                               backend=backend)
    assert result.converged and backend.asked == 1
    with h5py.File(out) as f:
        assert f["dense"].attrs["backend"] == "recording"


def test_file_deck_relative_paths_and_fallback(tmp_path):
    A = dense.randsvd(80, 1e3, 2, seed=2, scale=1e6)
    B = np.random.default_rng(1).standard_normal((80, 2))
    (tmp_path / "data").mkdir()
    with h5py.File(tmp_path / "data" / "A.h5", "w") as f:
        f["A"] = A
        f["B"] = B
    table = {"matrix": {"file": "data/A.h5", "dataset": "A"}, "rhs": {"file": "data/A.h5", "dataset": "B"},
             "factorization": "fp16", "refinement": "gmres"}
    result, out, logs = run_stage(tmp_path, table)
    assert result.code == dense.CONVERSION_OVERFLOW and result.fell_back and result.converged
    np.testing.assert_allclose(result.x, np.linalg.solve(A, B), rtol=1e-9)
    with h5py.File(out) as f:
        assert f["dense"].attrs["fell_back"] and f["dense"]["x"].shape == (80, 2)
        assert f["dense"].attrs["nrhs"] == 2 and "factorization_seconds" in f["dense"].attrs
    assert "fell back to fp64 (code -2: conversion overflow)" in logs[0]
    table["fallback"] = False
    logs = []
    with pytest.raises(SolverError, match="stage 'dense': the dense solve did not converge .*code -2"):
        run_stage(tmp_path, table, logs=logs)
    with h5py.File(tmp_path / "out.h5") as f:     # the report is written before the error
        assert "x" not in f["dense"] and f["dense"].attrs["code"] == -2 and not f["dense"].attrs["converged"]
    assert "NOT converged" in logs[0]


@pytest.mark.parametrize("table, key, message", [
    ({"matrix": {"generator": "randsvd"}}, "matrix.n", "missing required key"),
    ({"matrix": {"generator": "randsvd", "n": 10, "mode": 7}}, "matrix.mode", "is not one of"),
    ({"matrix": {"generator": "randsvd", "n": 0}}, "matrix.n", "must be >= 1"),
    ({"matrix": {"generator": "lotkin", "n": 10}}, "matrix.generator", "unknown generator 'lotkin'"),
    ({"matrix": {"file": "A.h5", "generator": "randsvd"}}, "matrix", "not both"),
    ({"matrix": {}}, "matrix", "needs 'file' or 'generator'"),
    ({"matrix": {"generator": "hpl_mxp", "n": 10, "cond": 3.0}}, "matrix.cond", "unknown key"),
    ({"matrix": {"generator": "hpl_mxp", "n": 10}, "rhs": {"generator": "random", "nrhs": 0}}, "rhs.nrhs", ">= 1"),
    ({"matrix": {"generator": "hpl_mxp", "n": 10}, "factorization": "fp8"}, "factorization", "unknown factorization"),
    ({"matrix": {"generator": "hpl_mxp", "n": 10}, "refinement": "cg"}, "refinement", "is not one of"),
    ({"matrix": {"generator": "hpl_mxp", "n": 10}, "tol": -1.0}, "tol", "must be positive"),
    ({"matrix": {"generator": "hpl_mxp", "n": 10}, "backend": "numpy"}, "backend", "unknown key"),  # [run] backend
])
def test_bad_decks_name_the_key(table, key, message, registry):
    with pytest.raises(DeckError, match=message) as err:
        configure(table, registry)
    assert err.value.key == key and err.value.stage == "dense" and "deck.toml" in str(err.value)


def test_errors_at_run_time(tmp_path):
    with pytest.raises(DeckError, match="file not found") as err:
        run_stage(tmp_path, {"matrix": {"file": "missing.h5", "dataset": "A"}})
    assert err.value.key == "matrix.file"
    A = np.eye(5)
    A[1, 1] = np.nan
    np.save(tmp_path / "nan.npy", A)
    with pytest.raises(HpcmixError, match=r"nan\.npy: contains 1 NaN or Inf entries") as err:
        run_stage(tmp_path, {"matrix": {"file": "nan.npy"}})
    assert err.value.collective


MPI_SCRIPT = textwrap.dedent("""
    import json, sys
    from types import SimpleNamespace
    from mpi4py import MPI
    from hpcmix.errors import HpcmixError
    from hpcmix.io.results import ResultsFile
    from hpcmix.params import Validator
    from hpcmix.stages.base import Context
    from hpcmix.stages.dense_solve import DenseSolveStage

    comm = MPI.COMM_WORLD
    out, table = sys.argv[1], json.loads(sys.argv[2])
    results = ResultsFile(out, rank=comm.rank, overwrite=True).open()
    ctx = Context(lattice=None, registry=None, backend=None, results=results,
                  deck=SimpleNamespace(base_dir="."), log=lambda m: None)
    ctx.stage = "dense"
    cfg = Validator(None).table(DenseSolveStage.params, table, stage="dense")
    with open(f"{out}.rank{comm.rank}", "w") as log:   # one file per rank: no interleaved output
        try:
            r = DenseSolveStage().run(ctx, cfg)
            results.commit()
            print("RESULT", r.niters, r.code, float(abs(r.x).sum()), file=log)
        except HpcmixError as exc:
            print("ERROR", exc.collective, type(exc).__name__, exc.exit_code, exc, file=log)
""")


def rank_lines(out, nranks=2):
    return [open(f"{out}.rank{r}").read().strip() for r in range(nranks)]


def test_two_ranks_agree_and_fail_together(tmp_path):
    script = tmp_path / "run_dense.py"
    script.write_text(MPI_SCRIPT)
    good = {"matrix": {"generator": "hpl_mxp", "n": 100}, "factorization": "bf16", "refinement": "gmres"}
    out = tmp_path / "out.h5"
    proc = run_mpi(2, [sys.executable, str(script), str(out), json.dumps(good)], timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = rank_lines(out)
    assert lines[0].startswith("RESULT") and lines[0] == lines[1]
    with h5py.File(out) as f:
        assert f["dense"]["x"].shape == (100,)
    bad = {"matrix": {"file": str(tmp_path / "absent.h5"), "dataset": "A"}}
    out = tmp_path / "bad.h5"
    proc = run_mpi(2, [sys.executable, str(script), str(out), json.dumps(bad)], timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = rank_lines(out)
    assert lines[0] == lines[1]      # same class and exit code on every rank, not a generic error
    assert lines[0].startswith("ERROR True DeckError 2") and "key 'matrix.file': file not found" in lines[0]


DECK = """[run]
output = "out.h5"

[[stage]]
name = "first"
kind = "dense_solve"
matrix = {{ generator = "hpl_mxp", n = 50 }}

[[stage]]
name = "second"
kind = "dense_solve"
{second}
"""


@pytest.mark.parametrize("second, key, message", [
    ('matrix = { file = "data/missing.h5", dataset = "A" }', "matrix.file", "file not found"),
    ('matrix = { file = "data/m.h5", dataset = "nope" }', "matrix.file", "no dataset 'nope'"),
    ('matrix = { file = "data/m.h5", dataset = "rect" }', "matrix.file", r"shape \(4, 3\), not a non-empty square"),
    ('matrix = { file = "data/m.h5", dataset = "A" }\nrhs = { file = "data/m.h5", dataset = "rect" }', "rhs.file",
     r"shape \(4, 3\); the right-hand side of an 5 x 5 system"),
    ('matrix = { file = "data/m.mtx" }\nrhs = { file = "data/b.npy" }', "rhs.file", r"shape \(4,\)"),
    ('matrix = { generator = "randsvd", n = 10, scale = inf }', "matrix.scale", "must be finite and non-zero"),
    ('matrix = { generator = "badly_scaled", n = 10, decades = 400.0 }', "matrix.decades", r"must lie in \[0, 100\]"),
    ('matrix = { generator = "hpl_mxp", n = 10000000 }', "matrix.n", "needs about .* GiB"),
])
def test_check_reads_the_inputs_before_any_work(tmp_path, second, key, message):
    """hpcmix check (and run, before its first stage) opens every matrix and right-hand-side file
    named by the deck and checks the shapes in their headers, and the limits of the generators."""
    import scipy.io

    from cli_helpers import hpcmix
    (tmp_path / "data").mkdir()
    with h5py.File(tmp_path / "data" / "m.h5", "w") as f:
        f["A"] = np.eye(5)
        f["rect"] = np.ones((4, 3))
    scipy.io.mmwrite(str(tmp_path / "data" / "m.mtx"), np.eye(5))
    np.save(tmp_path / "data" / "b.npy", np.ones(4))
    deck = tmp_path / "deck.toml"
    deck.write_text(DECK.format(second=second))
    for command in ("check", "run"):
        proc = hpcmix(command, deck, cwd=tmp_path, timeout=120)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"stage 'second': key '{key}'" in proc.stderr and "Traceback" not in proc.stderr
        assert re.search(message, proc.stderr), proc.stderr
        assert "[first]" not in proc.stdout and not (tmp_path / "out.h5").exists()


def test_singular_matrix_ends_the_run_with_an_error_and_keeps_the_report(tmp_path):
    """A matrix singular to working precision (two equal columns) is an error, not a converged solve."""
    A = np.random.default_rng(1).standard_normal((8, 8))
    A[:, 3] = A[:, 5]
    np.save(tmp_path / "sing.npy", A)
    (tmp_path / "deck.toml").write_text('[run]\noutput = "out.h5"\n[[stage]]\nname = "dense"\nkind = "dense_solve"\n'
                                        'matrix = { file = "sing.npy" }\n')
    from cli_helpers import hpcmix
    result = hpcmix("run", tmp_path / "deck.toml", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "singular to working precision" in result.stderr and "stage 'dense'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out.h5").exists()
    with h5py.File(tmp_path / "out.partial.h5") as h5:
        assert h5["dense"].attrs["rcond"] < 2.3e-16
