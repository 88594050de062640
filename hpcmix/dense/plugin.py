"""Built-in plugin of the dense package: the factorization precisions and the ``dense_solve`` stage."""

from ..hookspecs import hookimpl
from .formats import BUILTIN


@hookimpl
def precisions():
    return list(BUILTIN)


@hookimpl
def stages():
    from ..stages.dense_solve import DenseSolveStage
    return [DenseSolveStage]
