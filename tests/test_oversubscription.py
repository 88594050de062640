"""``hpcmix run`` warns when the node's ranks x numba threads exceed its cores (the slow case a user
falls into by starting mpiexec without NUMBA_NUM_THREADS) and is silent when they fit."""

import importlib.util
import os

import pytest

from cli_helpers import WEAK_GAUGE, hpcmix, write_deck

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba not installed")


def test_warns_when_threads_exceed_cores(tmp_path):
    deck = write_deck(tmp_path / "deck.toml", "backend = \"numba\"\n" + WEAK_GAUGE)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    over = hpcmix("run", deck, cwd=tmp_path, env={"NUMBA_NUM_THREADS": str(cores + 1)})
    assert over.returncode == 0, over.stderr
    assert f"1 rank(s) on this node x {cores + 1} numba threads each on {cores} cores: oversubscribed" in over.stdout
    fits = hpcmix("run", deck, "--overwrite", cwd=tmp_path, env={"NUMBA_NUM_THREADS": "1"})
    assert fits.returncode == 0 and "oversubscribed" not in fits.stdout + fits.stderr
