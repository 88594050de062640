"""numba's threads per rank: without NUMBA_NUM_THREADS each rank takes its share of the node's cores (so
a plain ``mpiexec -n 2 hpcmix run`` does not oversubscribe the node); a user's NUMBA_NUM_THREADS is kept,
and ``hpcmix run`` warns where ranks x threads exceed the cores."""

import importlib.util
import os
import sys

import pytest

from cli_helpers import WEAK_GAUGE, hpcmix, write_deck
from mpi_helpers import run_mpi

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba not installed")


def test_warns_when_threads_exceed_cores(tmp_path):
    deck = write_deck(tmp_path / "deck.toml", "backend = \"numba\"\n" + WEAK_GAUGE)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    over = hpcmix("run", deck, cwd=tmp_path, env={"NUMBA_NUM_THREADS": str(cores + 1)})
    assert over.returncode == 0, over.stderr
    assert f"1 rank(s) on this node x {cores + 1} numba thread(s) each on {cores} cores: oversubscribed" in over.stdout
    fits = hpcmix("run", deck, "--overwrite", cwd=tmp_path, env={"NUMBA_NUM_THREADS": "1"})
    assert fits.returncode == 0 and "oversubscribed" not in fits.stdout + fits.stderr


def test_ranks_share_the_cores_by_default(tmp_path):
    deck = write_deck(tmp_path / "deck.toml", "backend = \"numba\"\n" + WEAK_GAUGE)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    run = run_mpi(2, [sys.executable, "-m", "hpcmix", "run", str(deck)], cwd=tmp_path, env={"NUMBA_NUM_THREADS": None})
    assert run.returncode == 0, run.stderr
    assert f"({max(1, cores // 2)} thread(s) per rank)" in run.stdout and "oversubscribed" not in run.stdout, run.stdout
