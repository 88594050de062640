"""Built-in operators, registered through the ``operators`` hook."""

from ..hookspecs import hookimpl
from .specs import Wilson, WilsonClover


@hookimpl
def operators():
    return [Wilson, WilsonClover]
