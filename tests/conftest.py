"""Shared fixtures. Tests under tests/mpi run only under mpiexec with --with-mpi (see test_mpi_launch.py)."""

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("HPCMIX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def pytest_ignore_collect(collection_path, config):
    """tests/mpi holds the multi-rank cases; they are collected only in runs started with --with-mpi."""
    if collection_path.name == "mpi" and collection_path.is_dir() and not config.getoption("with_mpi", False):
        return True
    return None


@pytest.fixture
def shared_data():
    """The folder of real lattice data beside the checkout; skips where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real lattice data not found at {SHARED_DATA}")
    return SHARED_DATA
