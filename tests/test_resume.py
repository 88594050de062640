"""Resuming failed runs (hpcmix run --resume): a 2-rank run killed with SIGKILL in the middle of its second
propagator and resumed writes bitwise the datasets of an uninterrupted run, solving only the columns it
had not finished; an eigensolve's modes and a failed propagator's columns are not computed again; a
changed deck is refused naming the key; a fresh run refuses to lose an earlier run's
checkpoints; --resume without checkpoints is an error; a successful run leaves no checkpoint file."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

from cli_helpers import hpcmix, write_deck
from mpi_helpers import mpiexec

GAUGE = """
[lattice]
dims = [4, 4, 4, 8]

[[stage]]
name = "gauge"
kind = "generate_gauge"
start = "weak"
seed = 5
"""


def propagator(name, kappa, extra=""):
    return f"""
[[stage]]
name = "{name}"
kind = "propagator"
operator = {{ kind = "wilson_clover", kappa = {kappa}, csw = 1.0 }}
solver = {{ kind = "cg", tol = 1e-12, sloppy = "half" }}
save_solution = true
{extra}
"""


DECK = GAUGE + propagator("first", 0.12) + propagator("second", 0.128) + """
[[stage]]
name = "pion"
kind = "meson"
propagator = "second"
"""


def datasets(path):
    """{name: array} of every dataset in a results file."""
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[...]) if isinstance(obj, h5py.Dataset) else None)
    return out


def launch(deck, cwd, *extra):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    return subprocess.Popen(mpiexec() + ["-n", "2", sys.executable, "-m", "hpcmix", "run", str(deck), *extra],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process, timeout=300):
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out


def test_killed_run_resumes_to_the_uninterrupted_results(tmp_path):
    reference = write_deck(tmp_path / "reference.toml", DECK, output="reference.h5")
    code, out = finish(launch(reference, tmp_path))
    assert code == 0, out
    assert not (tmp_path / "reference.h5.checkpoint.h5").exists()

    deck = write_deck(tmp_path / "deck.toml", DECK)
    process = launch(deck, tmp_path)
    seen = []
    for line in process.stdout:                        # kill rank 0 once the second propagator is underway
        seen.append(line)
        if line.startswith("  source component 4:") and any(s.startswith("[second]") for s in seen):
            pid = int(next(tmp_path.glob("out.h5.tmp-*")).name.rsplit("-", 1)[1])
            os.kill(pid, signal.SIGKILL)
            break
    start = time.monotonic()
    code, out = finish(process, timeout=60)
    assert code != 0 and time.monotonic() - start < 60, "".join(seen) + out
    assert not (tmp_path / "out.h5").exists() and (tmp_path / "out.h5.checkpoint.h5").exists()

    code, out = finish(launch(deck, tmp_path, "--resume"))
    assert code == 0, out
    assert "resuming from" in out
    restored = [line for line in out.splitlines() if "(from the checkpoint)" in line]
    assert len(restored) >= 12 + 5 and len(restored) < 24, out     # all of first, at least 5 of second
    assert not (tmp_path / "out.h5.checkpoint.h5").exists()
    want, got = datasets(tmp_path / "reference.h5"), datasets(tmp_path / "out.h5")
    assert sorted(want) == sorted(got)
    for name in want:
        assert want[name].dtype == got[name].dtype and np.array_equal(want[name], got[name]), name


EIGEN = """
[[stage]]
name = "eig"
kind = "eigensolve"
operator = { kind = "wilson_clover", kappa = 0.128, csw = 1.0 }
n_ev = 8
n_kr = 24
"""
FAILING = GAUGE + EIGEN + propagator("prop", 0.128, 'deflation = "eig"').replace('sloppy = "half"', 'maxiter = 5')


def test_failed_run_checkpoints_and_resume_rules(tmp_path):
    deck = write_deck(tmp_path / "deck.toml", FAILING)
    run = hpcmix("run", deck, cwd=tmp_path)
    assert run.returncode == 1 and "did not converge" in run.stdout + run.stderr
    assert (tmp_path / "out.h5.checkpoint.h5").exists()

    fresh = hpcmix("run", deck, cwd=tmp_path)                   # would lose the checkpoints
    assert fresh.returncode == 2 and "add --resume" in fresh.stdout + fresh.stderr

    changed = write_deck(tmp_path / "deck.toml", FAILING.replace("maxiter = 5", "maxiter = 6"))
    refused = hpcmix("run", changed, "--resume", cwd=tmp_path)
    out = refused.stdout + refused.stderr
    assert refused.returncode == 2 and "stage 'prop'" in out and "key 'solver.maxiter'" in out, out

    same = write_deck(tmp_path / "deck.toml", FAILING)
    again = hpcmix("run", same, "--resume", cwd=tmp_path)
    out = again.stdout + again.stderr
    assert again.returncode == 1 and out.count("(from the checkpoint)") == 13, out      # nothing solved again
    first, second = datasets(tmp_path / "out.partial.h5"), datasets(tmp_path / "out.partial-2.h5")
    assert sorted(first) == sorted(second)
    for name in first:
        assert np.array_equal(first[name], second[name]), name


def test_resume_without_checkpoints_is_an_error(tmp_path):
    deck = write_deck(tmp_path / "deck.toml", GAUGE + propagator("prop", 0.12))
    run = hpcmix("run", deck, "--resume", cwd=tmp_path)
    assert run.returncode == 2 and "nothing to resume" in run.stdout + run.stderr
    assert not list(tmp_path.glob("out*.h5"))


SNAPSHOT_DECK = '[run]\noutput = "out.h5"\nprogress_seconds = 0.2\ncheckpoint_seconds = 0.01\n' + GAUGE.replace(
    "[4, 4, 4, 8]", "[8, 8, 8, 8]") + propagator("prop", 0.128).replace('sloppy = "half"', 'sloppy = "single"')


def test_a_column_killed_midway_restarts_from_its_snapshot(tmp_path):
    """A run killed while it solves its first column (SIGKILL) left a snapshot of that solve's solution;
    the resumed run starts the column from it, needs fewer iterations for it than a whole solve, and
    reaches the tolerance."""
    deck = tmp_path / "deck.toml"
    deck.write_text(SNAPSHOT_DECK)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "hpcmix", "run", str(deck)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if line.startswith("[prop] cg: iteration") and int(line.split("iteration ")[1].split(",")[0]) >= 30:
            process.kill()
            break
    process.wait(timeout=60)
    assert (tmp_path / "out.h5.checkpoint.h5").exists()
    resumed = subprocess.run([sys.executable, "-m", "hpcmix", "run", str(deck), "--resume"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
    out = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, out
    at = int(out.split("source component 0: resumed from its snapshot at iteration ")[1].split()[0])
    assert at >= 20, out
    with h5py.File(tmp_path / "out.h5") as f:
        first, other = f["prop/solves/0"].attrs, f["prop/solves/1"].attrs
        assert first["true_residual"] <= 1e-12 and first["converged"]
        assert first["iterations"] + at // 2 <= other["iterations"], (first["iterations"], at, other["iterations"])
