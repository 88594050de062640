"""The hpcmix command as a user runs it: the quickstart, check, plugins, info, and multi-rank runs
that agree with one rank and end cleanly (no hang) when something goes wrong."""

import os
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

from cli_helpers import GOOD_BODY, ROOT, hpcmix, write_deck
from hpcmix.backends import DEFAULT_BACKEND
from mpi_helpers import run_mpi

QUICKSTART = ROOT / "inputs" / "quickstart.toml"


def hpcmix_mpi(n, *args, cwd, timeout=300, env=None):
    return run_mpi(n, [sys.executable, "-m", "hpcmix", *map(str, args)], timeout=timeout, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def quickstart_serial(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("qs1")
    result = hpcmix("run", QUICKSTART, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return cwd / "out" / "quickstart.h5", result


def test_quickstart_runs_and_writes_every_result(quickstart_serial):
    path, result = quickstart_serial
    assert "results written to out/quickstart.h5" in result.stdout
    with h5py.File(path) as h5:
        assert 0.5 < h5["plaq"].attrs["plaquette"] < 1
        corr = h5["pion/correlator"][:]
        assert corr.shape == (8,) and np.all(corr > 0)
        np.testing.assert_allclose(corr[1:4], corr[7:4:-1], rtol=0.2)  # roughly symmetric about T/2
        assert h5["prop/solution"].shape == (8, 4, 4, 4, 4, 3, 4, 3)
        for i in range(12):
            report = h5[f"prop/solves/{i}"]
            for key in ("solver", "precision", "iterations", "true_residual", "converged", "seconds"):
                assert key in report.attrs
            assert report.attrs["converged"] and report.attrs["true_residual"] <= 1e-10
            assert len(report["history"]) == report.attrs["iterations"]
        assert "wilson_clover" in h5.attrs["deck"] and h5.attrs["process_grid"].tolist() == [1, 1, 1, 1]


def test_quickstart_under_mpiexec_4_gives_the_same_correlator(quickstart_serial, tmp_path):
    result = hpcmix_mpi(4, "run", QUICKSTART, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("results written") == 1  # rank 0 speaks for the job
    with h5py.File(quickstart_serial[0]) as one, h5py.File(tmp_path / "out" / "quickstart.h5") as four:
        assert np.prod(four.attrs["process_grid"]) == 4
        np.testing.assert_allclose(four["pion/correlator"][:], one["pion/correlator"][:], rtol=1e-12, atol=0)
        np.testing.assert_allclose(four["prop/solution"][:], one["prop/solution"][:], rtol=0, atol=1e-11)


def test_bad_deck_under_mpiexec_is_one_clean_message(tmp_path):
    deck = write_deck(tmp_path / "bad.toml", GOOD_BODY.replace("kappa = 0.11", "kappa = 0.11, kapa = 1"))
    result = hpcmix_mpi(2, "run", deck, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("hpcmix: error:") == 1 and "key 'operator.kapa'" in result.stderr
    assert "Traceback" not in result.stderr


def test_odd_local_extents_and_grids_that_do_not_divide(tmp_path):
    """t = 6 over 2 ranks gives local extent 3: refused for even-odd preconditioning (DESIGN.md), allowed
    without it, where the run's correlator equals one rank's; an extent the grid does not divide is a
    deck error."""
    body = GOOD_BODY.replace("[4, 4, 4, 4]", "[4, 4, 4, 6]")
    evenodd = hpcmix_mpi(2, "check", write_deck(tmp_path / "eo.toml", "grid = [1, 1, 1, 2]\n" + body), cwd=tmp_path)
    assert evenodd.returncode == 2 and "stage 'prop': key 'evenodd': even-odd preconditioning needs even local " \
        "extents, but process grid [1, 1, 1, 2] gives t = 3" in evenodd.stderr, evenodd.stderr
    body = body.replace('solver = { kind = "cg"', 'evenodd = false\nsolver = { kind = "cg"')
    one = hpcmix("run", write_deck(tmp_path / "one.toml", body, output="one.h5"), cwd=tmp_path)
    two = hpcmix_mpi(2, "run", write_deck(tmp_path / "two.toml", "grid = [1, 1, 1, 2]\n" + body, output="two.h5"),
                     cwd=tmp_path, timeout=300)
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    with h5py.File(tmp_path / "one.h5") as f1, h5py.File(tmp_path / "two.h5") as f2:
        np.testing.assert_allclose(f2["pion/correlator"][()], f1["pion/correlator"][()], rtol=1e-12, atol=0)
    deck = write_deck(tmp_path / "grid3.toml", "grid = [1, 1, 1, 2]\n" + GOOD_BODY.replace("[4, 4, 4, 4]", "[4, 4, 4, 5]"))
    result = hpcmix_mpi(2, "check", deck, cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "not divisible" in result.stderr


def test_failure_on_one_rank_ends_the_whole_job(tmp_path):
    body = GOOD_BODY.replace('[[stage]]\nname = "prop"', '[[stage]]\nname = "boom"\nkind = "fail_on_rank"\n\n[[stage]]\nname = "prop"')
    deck = write_deck(tmp_path / "boom.toml", 'plugins = ["rank_failure"]\n' + body)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "deck_plugins"), os.environ.get("PYTHONPATH", "")])}
    result = hpcmix_mpi(2, "run", deck, cwd=tmp_path, timeout=120, env=env)
    assert result.returncode != 0
    assert "rank 1" in result.stderr and "simulated failure" in result.stderr
    assert not (tmp_path / "out.h5").exists()


def test_plugin_sets_must_agree_across_ranks(tmp_path):
    deck = write_deck(tmp_path / "mismatch.toml", 'plugins = ["rank_dependent"]\n' + GOOD_BODY)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "deck_plugins"), os.environ.get("PYTHONPATH", "")])}
    result = hpcmix_mpi(2, "check", deck, cwd=tmp_path, timeout=120, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count("hpcmix: error:") == 1 and "registered different plugins" in result.stderr
    assert "point_rank1" in result.stderr and "Traceback" not in result.stderr


def test_check_plugins_info(tmp_path):
    check = hpcmix("check", QUICKSTART, "--overwrite")
    assert check.returncode == 0 and "OK" in check.stdout and "prop (propagator)" in check.stdout
    plugins = hpcmix("plugins", "-v")
    assert plugins.returncode == 0
    for name in ("wilson_clover", "asqtad", "cg", "gcr", "point", "propagator", "meson", "hpcmix", "milc", "half", "numpy"):
        assert f"  {name} " in plugins.stdout, name
    assert "hpcmix (built-in" in plugins.stdout and "kappa" in plugins.stdout
    info = hpcmix("info", "--dims", "8", "8", "8", "16")
    assert info.returncode == 0 and "MPI: MPICH" in info.stdout, info.stdout
    assert re.search(r"numpy +available", info.stdout) and "[1, 1, 1, 1]" in info.stdout
    assert f"backends (default: {DEFAULT_BACKEND})" in info.stdout
    if DEFAULT_BACKEND == "numba":
        assert "thread(s) per rank" in info.stdout and "kernel cache" in info.stdout


def test_save_and_reload_gauge_through_decks(tmp_path):
    make = write_deck(tmp_path / "make.toml", GOOD_BODY.split('[[stage]]\nname = "prop"')[0]
                      + '[[stage]]\nname = "save"\nkind = "save_gauge"\nfile = "cfg.h5"\n', output="make.h5")
    assert hpcmix("run", make, cwd=tmp_path).returncode == 0
    again = hpcmix("run", make, "--overwrite", cwd=tmp_path)
    assert again.returncode == 2 and "cfg.h5" in again.stderr and "exists" in again.stderr
    load = write_deck(tmp_path / "load.toml", GOOD_BODY.replace('kind = "generate_gauge"\nstart = "weak"\nseed = 5',
                                                                'kind = "load_gauge"\nfile = "cfg.h5"').replace(
        "dims = [4, 4, 4, 4]", ""), output="load.h5")
    result = hpcmix("run", load, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with h5py.File(tmp_path / "make.h5") as a, h5py.File(tmp_path / "load.h5") as b:
        assert a["gauge"].attrs["plaquette"] == b["gauge"].attrs["plaquette"]
        assert b.attrs["lattice"].tolist() == [4, 4, 4, 4]  # taken from the file


def test_convert_command(tmp_path, shared_data):
    milc = shared_data / "gauge" / "milc" / "lat.sample.l4444"
    h5 = tmp_path / "l4444.h5"
    result = hpcmix("convert", milc, h5)
    assert result.returncode == 0, result.stderr
    lime = tmp_path / "l4444.lime"
    assert hpcmix("convert", h5, lime).returncode == 0
    again = hpcmix("convert", h5, lime)
    assert again.returncode == 2 and "l4444.lime" in again.stderr and "Traceback" not in again.stderr
    deck = write_deck(tmp_path / "plaq.toml", f'[[stage]]\nname = "g"\nkind = "load_gauge"\nfile = "{lime}"\n'
                      '[[stage]]\nname = "plaq"\nkind = "plaquette"\n', output="p.h5")
    assert hpcmix("run", deck, cwd=tmp_path).returncode == 0
    with h5py.File(tmp_path / "p.h5") as out:
        assert out["plaq"].attrs["plaquette"] == pytest.approx(0.5948501589, abs=1e-9)
        assert out["g"].attrs["format"] == "ildg"


def test_a_run_time_error_names_the_deck_and_the_stage(tmp_path):
    """An unconverged solve ends the run (exit 1) with one line naming the deck file and the stage,
    and keeps what was computed in the partial results file."""
    deck = write_deck(tmp_path / "short.toml", GOOD_BODY.replace("tol = 1e-9", "tol = 1e-9, maxiter = 3"))
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count("hpcmix: error:") == 1 and "Traceback" not in result.stderr
    assert f"{deck}: stage 'prop' (propagator): 12 of 12 solves did not converge" in result.stderr
    assert not (tmp_path / "out.h5").exists() and (tmp_path / "out.partial.h5").exists()


@pytest.mark.parametrize("module, message", [
    ("boom_on_import", "cannot import plugin module 'boom_on_import': RuntimeError: boom on import"),
    ("misspelt_hook", "unknown hook 'solverz'")])
def test_a_broken_plugin_module_is_one_clear_error(tmp_path, module, message):
    deck = write_deck(tmp_path / "plug.toml", f'plugins = ["{module}"]\n' + GOOD_BODY)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "deck_plugins"), os.environ.get("PYTHONPATH", "")])}
    for result in (hpcmix("check", deck, cwd=tmp_path, env=env), hpcmix_mpi(2, "check", deck, cwd=tmp_path, env=env)):
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.count("hpcmix: error:") == 1 and "key 'plugins'" in result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_a_plugin_importable_on_one_rank_only_ends_the_job_cleanly(tmp_path):
    """Rank 1 finds the module, rank 0 does not: both learn it (no rank left waiting), one line, exit 2."""
    deck = write_deck(tmp_path / "half.toml", 'plugins = ["rank_failure"]\n' + GOOD_BODY)
    path = f"PYTHONPATH={ROOT / 'tests' / 'deck_plugins'}"
    command = [sys.executable, "-m", "hpcmix", "check", str(deck)]
    result = run_mpi(1, command + [":", "-n", "1", "env", path] + command, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("hpcmix: error:") == 1
    assert "cannot import plugin module 'rank_failure'" in result.stderr and "(on rank 0 of 2)" in result.stderr


def test_plugins_verbose_lists_the_allowed_values():
    out = hpcmix("plugins", "-v").stdout
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("      ")}
    assert "one of 'classical', 'gmres', 'classical_gmres'" in lines["refinement"], lines["refinement"]
    assert "one of 'unit', 'random', 'weak'" in lines["start"], lines["start"]
    assert "one of 'pion'" in lines["channel"], lines["channel"]


def test_a_closed_pipe_ends_the_run_quietly(tmp_path):
    """``hpcmix run DECK | head -1``: once the reader is gone the run ends as a pipeline's stage does (exit
    128 + SIGPIPE), with no traceback, its results kept as the partial file."""
    command = f"{sys.executable} -m hpcmix run {QUICKSTART} | head -1; echo status ${{PIPESTATUS[0]}} >&2"
    result = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("hpcmix ") and result.stdout.count("\n") == 1, result.stdout
    assert "status 141" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "out" / "quickstart.h5").exists()
