"""Shared fixtures. Tests under tests/mpi run only under mpiexec with --with-mpi (see test_mpi_launch.py)."""

import os
from pathlib import Path

import pytest

from hpcmix.registry import get_registry

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


def backend_params():
    """One pytest parameter per registered backend (built-in or from an installed plugin), named by the
    backend; one that cannot load here is skipped with its reason."""
    params = []
    for entry in get_registry().entries("backends"):
        ok, why = entry.obj.available()
        marks = () if ok else pytest.mark.skip(reason=f"backend '{entry.name}' does not load here: {why}")
        params.append(pytest.param(entry.name, id=entry.name, marks=marks))
    return params


@pytest.fixture(scope="module", params=backend_params())
def backend(request):
    """Every registered backend that loads here, one instance each: tests of operators and solvers that
    take it run on each, so the backends cannot drift apart."""
    return get_registry().lookup("backends", request.param)()
