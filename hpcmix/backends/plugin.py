"""Built-in backends, registered through the ``backends`` hook."""

from ..hookspecs import hookimpl
from .cupy_backend import CupyBackend
from .numba_backend import NumbaBackend
from .numpy_backend import NumpyBackend


@hookimpl
def backends():
    return [NumpyBackend, NumbaBackend, CupyBackend]
