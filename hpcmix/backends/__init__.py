"""Backends: array allocation, host/device transfer and the hot kernels."""

import importlib.util

from .base import Backend, BackendUnavailable, load_backend

#: the backend a deck gets without ``[run] backend``: numba where it can be imported (compiled,
#: multithreaded kernels, several times the numpy reference's speed), else the numpy reference
DEFAULT_BACKEND = "numba" if importlib.util.find_spec("numba") is not None else "numpy"

__all__ = ["Backend", "BackendUnavailable", "DEFAULT_BACKEND", "load_backend"]
