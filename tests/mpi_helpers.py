"""Launching pytest (or hpcmix) under mpiexec from the serial test run."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def mpiexec():
    """The mpiexec beside this Python (the registry's MPICH), else the one on PATH, else skip."""
    exe = os.environ.get("HPCMIX_MPIEXEC")
    if exe:
        return exe.split()
    here = Path(sys.executable).parent
    found = shutil.which("mpiexec", path=f"{here}{os.pathsep}{os.environ.get('PATH', '')}")
    if not found:
        pytest.skip("no mpiexec found")
    return [found]


def run_mpi(n, args, timeout=600, cwd=ROOT, env=None):
    """Run ``args`` (a command after mpiexec -n n) and return the CompletedProcess; an ``env`` value of None
    removes that variable."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1", **(env or {})}   # one thread per rank: ranks x threads must fit the cores
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run(mpiexec() + ["-n", str(n)] + list(args), cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def benchmark(name):
    """The module benchmarks/bench_<name>.py, imported from the checkout."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"bench_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
