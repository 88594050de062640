"""Built-in sources, registered through the ``sources`` hook."""

from ..hookspecs import hookimpl
from .file import FileSource
from .point import PointSource, WallSource


@hookimpl
def sources():
    return [PointSource, WallSource, FileSource]
