"""CI installs the shipped plugins (plugins/*) and runs the whole suite with them; this runs the tests that
depend on what is registered (deck validation and its messages, precisions, backends, the CLI's plugin
listing) once more as if no plugin were installed (HPCMIX_NO_PLUGINS=1), so that the suite is known to
pass with and without them. Where no plugin is installed the whole suite already runs without."""

import importlib.metadata
import os
import subprocess
import sys

import pytest

from mpi_helpers import ROOT

REGISTRY_SENSITIVE = ["tests/test_deck_errors.py", "tests/test_precision.py", "tests/test_backend_plugin.py"]


def test_registry_sensitive_tests_pass_without_the_installed_plugins():
    installed = sorted({ep.dist.name for ep in importlib.metadata.entry_points(group="hpcmix") if ep.dist})
    if not installed:
        pytest.skip("no plugin installed: the whole suite runs without plugins")
    env = dict(os.environ, HPCMIX_NO_PLUGINS="1", NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *REGISTRY_SENSITIVE],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"without {installed}:\n" + result.stdout[-4000:] + result.stderr[-2000:]
