"""Built-in backends, registered through the ``backends`` hook."""

from ..hookspecs import hookimpl
from .numpy_backend import NumpyBackend


@hookimpl
def backends():
    return [NumpyBackend]
