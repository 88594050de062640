"""hpcmix hook implementations of the twisted-mass plugin (found through the ``hpcmix`` entry point)."""

from hpcmix import hookimpl

from .operator import TwistedMass


@hookimpl
def operators():
    return [TwistedMass]
