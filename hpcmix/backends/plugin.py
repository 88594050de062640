"""Built-in backends, registered through the ``backends`` hook."""

from ..hookspecs import hookimpl
from .numba_backend import NumbaBackend
from .numpy_backend import NumpyBackend


@hookimpl
def backends():
    return [NumpyBackend, NumbaBackend]
