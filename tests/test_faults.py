"""Faults under mpiexec with 2 ranks (a rank that raises and SIGTERM/SIGINT are tests/test_cli.py's and
tests/test_interrupt.py's): a rank killed with SIGKILL, a full disk while the results are written, and an
input file that vanishes or changes while the run goes on. In each the job ends within a bounded time,
with a non-zero exit and one clear message, and nothing at the output path looks complete."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from cli_helpers import ROOT, write_deck
from mpi_helpers import mpiexec

ENV = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
           PYTHONPATH=os.pathsep.join([str(ROOT / "tests" / "deck_plugins"), os.environ.get("PYTHONPATH", "")]))
STALL = """
[[stage]]
name = "wait"
kind = "stall"
ready = "ready"
seconds = {seconds}
"""


def launch(deck, cwd):
    return subprocess.Popen(mpiexec() + ["-n", "2", sys.executable, "-m", "hpcmix", "run", str(deck)], cwd=cwd,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_ready(proc, tmp_path):
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"the run did not reach its stall stage: {proc.communicate()}")
        time.sleep(0.05)


def finish(proc, timeout=60):
    """(exit code, stdout + stderr, seconds) of ``proc``; a hang past ``timeout`` fails the test."""
    t0 = time.monotonic()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"no exit within {timeout} s: {proc.communicate()}")
    return proc.returncode, out + err, time.monotonic() - t0


def nothing_complete(tmp_path):
    assert not (tmp_path / "out.h5").exists()


def test_a_rank_killed_with_sigkill_ends_the_job(tmp_path):
    deck = write_deck(tmp_path / "deck.toml", 'plugins = ["slow_stage"]\nbackend = "numpy"\n[lattice]\n'
                      'dims = [4, 4, 4, 4]\n[[stage]]\nname = "gauge"\nkind = "generate_gauge"\n'
                      + STALL.format(seconds=60))
    proc = launch(deck, tmp_path)
    wait_ready(proc, tmp_path)
    os.kill(int((tmp_path / "ready.1").read_text()), signal.SIGKILL)
    code, out, seconds = finish(proc)
    assert code != 0 and seconds < 30, (code, seconds, out)
    assert "Traceback" not in out, out
    nothing_complete(tmp_path)


PROPAGATOR = """
[[stage]]
name = "prop"
kind = "propagator"
operator = { kind = "wilson_clover", kappa = 0.12, csw = 1.0 }
solver = { kind = "cg", tol = 1e-8 }
save_solution = true
"""


def test_a_full_disk_while_writing_the_results(tmp_path):
    """No file may grow past 256 KiB once the run started (tests/deck_plugins/small_disk.py: the writes
    fail as on a full disk); the propagator's 590 KB solution does not fit in the results file."""
    deck = write_deck(tmp_path / "deck.toml", 'plugins = ["small_disk"]\nbackend = "numpy"\ncheckpoint = false\n'
                      '[lattice]\ndims = [4, 4, 4, 4]\n[[stage]]\nname = "gauge"\nkind = "generate_gauge"\n' + PROPAGATOR)
    code, out, seconds = finish(launch(deck, tmp_path))
    assert code != 0 and seconds < 60, (code, out)
    assert out.count("hpcmix: error") == 1 and "Traceback" not in out, out
    assert "stage 'prop'" in out and "File too large" in out, out
    nothing_complete(tmp_path)


@pytest.mark.parametrize("change", ["vanishes", "changes"])
def test_an_input_file_that_vanishes_or_changes_during_the_run(tmp_path, change):
    """The gauge file is checked when the run starts, then removed (or a byte of its links flipped) while
    an earlier stage runs: its loading is a clear error naming the file."""
    gauge = tmp_path / "gauge.h5"
    save = write_deck(tmp_path / "save.toml", '[lattice]\ndims = [4, 4, 4, 4]\n[[stage]]\nname = "gauge"\n'
                      'kind = "generate_gauge"\nstart = "weak"\n[[stage]]\nname = "save"\nkind = "save_gauge"\n'
                      f'file = "{gauge}"\n', output="save.h5")
    assert subprocess.run([sys.executable, "-m", "hpcmix", "run", str(save)], cwd=tmp_path, env=ENV).returncode == 0
    deck = write_deck(tmp_path / "deck.toml", 'plugins = ["slow_stage"]\n' + STALL.format(seconds=2)
                      + f'\n[[stage]]\nname = "gauge"\nkind = "load_gauge"\nfile = "{gauge}"\n')
    proc = launch(deck, tmp_path)
    wait_ready(proc, tmp_path)
    if change == "vanishes":
        gauge.unlink()
    else:
        import h5py
        with h5py.File(gauge, "r+") as f:
            links = f["gauge/U"]
            links[0, 0, 0, 0] = links[0, 0, 0, 0] * np.float64(1 + 2 ** -40)
    code, out, seconds = finish(proc)
    assert code == 2 and seconds < 60, (code, out)
    assert out.count("hpcmix: error") == 1 and "Traceback" not in out, out
    assert str(gauge) in out and ("stage 'gauge'" in out), out
    assert "no such file" in out.lower() if change == "vanishes" else "checksum mismatch" in out, out
    nothing_complete(tmp_path)
