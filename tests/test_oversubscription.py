"""numba's threads per rank: without NUMBA_NUM_THREADS each rank takes its share of the node's cores (so
a plain ``mpiexec -n 2 hpcmix run`` does not oversubscribe the node); a user's NUMBA_NUM_THREADS is kept,
and ``hpcmix run`` warns where ranks x threads exceed the cores."""

import importlib.util
import os
import subprocess
import sys

import pytest
from cli_helpers import WEAK_GAUGE, hpcmix, write_deck
from mpi_helpers import run_mpi

from hpcmix.backends.blas_threads import USER_VARIABLES

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


BLAS_PROBE = """
from threadpoolctl import threadpool_info
from hpcmix.backends import blas_threads, load_backend
from hpcmix.registry import get_registry
sizes = lambda: sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
load_backend(get_registry(), "numba")
inside = None
with blas_threads.sized(3):
    inside = sizes()
print(sizes(), inside)
"""


def _blas_probe(env):
    """The BLAS pools' sizes after loading the numba backend, and inside ``sized(3)``, in a fresh process."""
    full = {k: v for k, v in os.environ.items() if k not in USER_VARIABLES}
    full.update(env)
    run = subprocess.run([sys.executable, "-c", BLAS_PROBE], capture_output=True, text=True, env=full, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout.split("\n")[0]


def test_numba_backend_runs_blas_on_one_thread_and_the_dense_lu_on_more():
    """Loading the numba backend sizes BLAS (numpy's and scipy's) to one thread; ``sized`` lends it more for
    the dense LU and gives them back; a pool the user sized is left alone."""
    pytest.importorskip("threadpoolctl")
    assert _blas_probe({}) == "[1] [3]"
    assert _blas_probe({"OPENBLAS_NUM_THREADS": "2"}) == "[2] [2]"
