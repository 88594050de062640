"""Runs the multi-rank test cases of tests/mpi under mpiexec with 2 and 4 ranks (pytest-mpi)."""

import sys

import pytest

from mpi_helpers import ROOT, run_mpi


@pytest.mark.parametrize("ranks", [2, 4])
def test_mpi_suite(ranks):
    result = run_mpi(ranks, [sys.executable, "-m", "pytest", "--with-mpi", "-q", "-p", "no:cacheprovider",
                             "-x", str(ROOT / "tests" / "mpi")], timeout=900)
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout, tail
