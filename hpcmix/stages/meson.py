"""Meson two-point functions at zero momentum.

Pion (Wilson, by gamma5-hermiticity; staggered Goldstone pion, by epsilon-hermiticity):
    C(t) = sum_{x, t_x = t0 + t} sum_{all sink and source indices} |S(x; x0)|^2,
with t measured from the source time slice t0 (periodic wrap).
"""

import math

import numpy as np

from ..params import LATEST, Param, Ref
from .base import Stage


def pion_correlator(prop):
    lattice = prop.lattice
    density = (np.abs(prop.data) ** 2).reshape(lattice.shape + (-1,)).sum(axis=(1, 2, 3, 4))
    full = np.zeros(lattice.dims[3])
    t0 = lattice.offset[3]
    full[t0:t0 + lattice.local_dims[3]] = density
    total = lattice.pg.sum_array(full)
    return np.roll(total, -prop.origin)


class MesonStage(Stage):
    name = "meson"
    description = "zero-momentum pion two-point function from a propagator"
    produces = "correlator"
    params = {
        "propagator": Param(Ref("propagator"), LATEST, "the propagator"),
        "channel": Param(str, "pion", "meson channel", choices=("pion",)),
    }

    @staticmethod
    def check_inputs(cfg, validator, stage):
        """The propagator must be that of a point or wall source (``localized``): contracted, the solution
        for any other source is a meaningless number labelled with the channel."""
        kind = validator.configs.get(cfg["propagator"], {}).get("source", {}).get("kind")
        if kind is not None and not getattr(validator.registry.lookup("sources", kind), "localized", False):
            raise validator.error(f"propagator '{cfg['propagator']}' was solved for a '{kind}' source; a meson "
                                  "correlator needs the propagator of a point or wall source", stage, "propagator")

    @staticmethod
    def memory(cfg, local_dims, registry):
        """Working: |S|^2 of the propagator and its square, two float64 arrays of its size (counted for a
        Wilson propagator, 144 complex numbers per site: 2304 bytes per site, an upper bound for staggered);
        kept: the correlator (negligible)."""
        return math.prod(local_dims) * 144 * 16, 0

    def run(self, ctx, cfg):
        prop = ctx.objects[cfg["propagator"]]
        corr = pion_correlator(prop)
        ctx.results.write(f"{ctx.stage}/correlator", corr,
                          {"channel": cfg["channel"], "propagator": cfg["propagator"], "source_time": prop.origin,
                           "convention": "C(t) = sum_x |S(x, t0 + t; x0)|^2 over all spin-color indices"})
        ctx.log("  t  C(t)\n" + "\n".join(f"{t:3d}  {c:.12e}" for t, c in enumerate(corr)))
        return corr
