"""Point and wall sources.

A source kind has ``name``, ``params``, optionally ``check_lattice(cfg, dims)`` (-> (key, message) or
None, checked before the run) and ``build(lattice, cfg, field_shape, ctx)`` returning a
list of local right-hand sides, one per source component: for Wilson fermions (field_shape (4, 3))
12 components ordered (spin, color) -> 3 * spin + color, for staggered (3,) 3 colors.
``origin(cfg)`` gives the source time slice that correlators are measured from. ``localized = True``
says that the solutions form a propagator S(x; x0) from one site or time slice, the object meson
correlators contract (a file source's solution is no such propagator).
"""

import itertools

import numpy as np

from ..params import ListOf, Param


def unit_vectors(field_shape):
    return list(itertools.product(*(range(n) for n in field_shape)))


class PointSource:
    name = "point"
    description = "delta function at one site, one right-hand side per spin-color component"
    localized = True
    params = {"site": Param(ListOf(int, 4), [0, 0, 0, 0], "source site [x, y, z, t]")}

    @classmethod
    def validate_config(cls, cfg, registry):
        if any(s < 0 for s in cfg["site"]):
            return ("site", "coordinates must be non-negative")
        return None

    @classmethod
    def check_lattice(cls, cfg, dims):
        if any(s >= d for s, d in zip(cfg["site"], dims)):
            return ("site", f"source site {cfg['site']} lies outside the lattice {dims}")
        return None

    @classmethod
    def origin(cls, cfg):
        return cfg["site"][3]

    @classmethod
    def build(cls, lattice, cfg, field_shape, ctx):
        local = lattice.owns([s for s in cfg["site"]])
        out = []
        for comp in unit_vectors(field_shape):
            b = lattice.zeros(field_shape)
            if local is not None:
                b[local + comp] = 1.0
            out.append(b)
        return out


class WallSource:
    name = "wall"
    description = "unit source on every site of one time slice (Coulomb-gauge-fixed fields)"
    localized = True
    params = {"t": Param(int, 0, "time slice")}

    @classmethod
    def validate_config(cls, cfg, registry):
        return ("t", "must be non-negative") if cfg["t"] < 0 else None

    @classmethod
    def check_lattice(cls, cfg, dims):
        return ("t", f"time slice {cfg['t']} lies outside the lattice {dims}") if cfg["t"] >= dims[3] else None

    @classmethod
    def origin(cls, cfg):
        return cfg["t"]

    @classmethod
    def build(cls, lattice, cfg, field_shape, ctx):
        on = (lattice.coordinate(3) == cfg["t"])
        out = []
        for comp in unit_vectors(field_shape):
            b = lattice.zeros(field_shape)
            b[(Ellipsis,) + comp] = np.broadcast_to(on, lattice.shape)
            out.append(b)
        return out
