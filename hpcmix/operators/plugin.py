"""Built-in operators, registered through the ``operators`` hook."""

from ..hookspecs import hookimpl
from .specs import Wilson, WilsonClover
from .staggered_specs import Asqtad, NaiveStaggered


@hookimpl
def operators():
    return [Wilson, WilsonClover, NaiveStaggered, Asqtad]
