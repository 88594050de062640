"""SIGTERM (a batch system's time limit) and SIGINT end a run with one message naming the partial
results file, which is kept; no temporary file and nothing that looks complete is left, alone or under
mpiexec, within a bounded time. A later run keeps the temporary file of a killed run as a partial file
and leaves that of a running one alone."""

import os
import signal
import subprocess
import sys
import time

import h5py
import pytest

from cli_helpers import ROOT, hpcmix, write_deck
from mpi_helpers import mpiexec

BODY = """plugins = ["slow_stage"]
backend = "numpy"

[lattice]
dims = [4, 4, 4, 4]

[[stage]]
name = "gauge"
kind = "generate_gauge"

[[stage]]
name = "wait"
kind = "stall"
ready = "ready"
"""
QUICK = 'backend = "numpy"\n[lattice]\ndims = [4, 4, 4, 4]\n[[stage]]\nname = "gauge"\nkind = "generate_gauge"\n'
ENV = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
           PYTHONPATH=os.pathsep.join([str(ROOT / "tests" / "deck_plugins"), os.environ.get("PYTHONPATH", "")]))


def start(tmp_path, ranks=1):
    """Start the stalling deck (alone, or under mpiexec) and wait until its second stage runs."""
    deck = write_deck(tmp_path / "deck.toml", BODY)
    command = [sys.executable, "-m", "hpcmix", "run", str(deck)]
    if ranks > 1:
        command = mpiexec() + ["-n", str(ranks)] + command
    proc = subprocess.Popen(command, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"the run did not reach its second stage: {proc.communicate()}")
        time.sleep(0.05)
    return proc


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)


def finish(proc, timeout=30):
    """(exit code, stderr, seconds it took) of ``proc``, killed after ``timeout``."""
    t0 = time.monotonic()
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        pytest.fail(f"no exit within {timeout} s: {proc.communicate()}")
    return proc.returncode, err, time.monotonic() - t0


@pytest.mark.parametrize("ranks, sig", [(1, signal.SIGTERM), (1, signal.SIGINT), (2, signal.SIGTERM),
                                       (2, signal.SIGINT)],
                         ids=["sigterm", "sigint", "sigterm-2-ranks", "sigint-2-ranks"])
def test_signal_keeps_the_partial_results(tmp_path, ranks, sig):
    proc = start(tmp_path, ranks)
    proc.send_signal(sig)         # alone: to hpcmix; under mpiexec: to mpiexec, which forwards it to the ranks
    code, err, seconds = finish(proc)
    assert code == 128 + sig and seconds < 20, (code, seconds, err)
    assert err.count("hpcmix: error:") == 1 and f"interrupted by {sig.name}" in err, err
    assert "partial results kept in out.partial.h5" in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("ready.")) == [
        "deck.toml", "out.partial.h5", "ready"]
    with h5py.File(tmp_path / "out.partial.h5") as h5:
        assert "plaquette" in h5["gauge"].attrs


def test_a_later_run_keeps_a_killed_runs_temporary_as_partial(tmp_path):
    proc = start(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    finish(proc)
    stray = [p.name for p in tmp_path.glob("out.h5.tmp-*")]
    assert stray == [f"out.h5.tmp-{proc.pid}"]
    deck = write_deck(tmp_path / "again.toml", QUICK)
    result = hpcmix("run", deck, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"out.h5.tmp-{proc.pid}" in result.stdout and "out.partial.h5" in result.stdout
    assert sorted(p.name for p in tmp_path.glob("out*")) == ["out.h5", "out.partial.h5"]
    with h5py.File(tmp_path / "out.partial.h5") as h5:
        assert "plaquette" in h5["gauge"].attrs


def test_a_later_run_leaves_a_running_runs_temporary_alone(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from hpcmix.io.results import ResultsFile; "
                               "r = ResultsFile('out.h5').open(); print(r.tmp, flush=True); time.sleep(60)"],
                              cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        live = tmp_path / holder.stdout.readline().strip()
        result = hpcmix("run", write_deck(tmp_path / "deck.toml", QUICK), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert live.exists() and not (tmp_path / "out.partial.h5").exists()
    finally:
        holder.kill()
        holder.wait()
