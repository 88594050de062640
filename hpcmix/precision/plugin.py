"""Built-in precisions, registered through the ``precisions`` hook like any plugin's."""

from ..hookspecs import hookimpl
from .fixed_point import HALF, QUARTER
from .ieee import DOUBLE, SINGLE


@hookimpl
def precisions():
    return [DOUBLE, SINGLE, HALF, QUARTER]
