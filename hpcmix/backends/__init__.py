"""Backends: array allocation, host/device transfer and the hot kernels."""

from .base import Backend, BackendUnavailable, load_backend

__all__ = ["Backend", "BackendUnavailable", "load_backend"]
