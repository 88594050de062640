"""Built-in sources, registered through the ``sources`` hook."""

from ..hookspecs import hookimpl
from .point import PointSource, WallSource


@hookimpl
def sources():
    return [PointSource, WallSource]
