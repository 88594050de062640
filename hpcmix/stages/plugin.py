"""Built-in stages, registered through the ``stages`` hook."""

from ..hookspecs import hookimpl
from .eigensolve import EigensolveStage
from .gauge import GenerateGauge, LoadGauge, Plaquette, SaveGauge
from .meson import MesonStage
from .propagator import PropagatorStage


@hookimpl
def stages():
    return [GenerateGauge, LoadGauge, SaveGauge, Plaquette, PropagatorStage, MesonStage, EigensolveStage]
