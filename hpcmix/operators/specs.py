"""Registered operator kinds: their deck parameters and how they are built from a gauge field.

An operator kind has ``name``, ``params``, ``field_shape`` (per-site components of the fields it acts
on: (4, 3) for Wilson fermions) and ``build(gauge, cfg, ctx)`` returning a Dirac object with
``operator()`` (a LinearOperator for M), ``lattice`` and, where even-odd preconditioning applies,
``schur()``. ``validate_config(cfg, registry)`` returns (key, message) for a bad combination.
``reconstructs`` (optional; default 18, 12, 8) lists the link compressions its links allow;
``needs_even_extents`` (optional) says the operator is defined on even lattice extents only.
"""

import math

from ..params import ListOf, Param
from .wilson import WilsonDirac, kappa_to_mass

BOUNDARY = Param((ListOf(float, 4), str), "lattice",
                 "fermion boundary phases [x, y, z, t]; 'lattice' takes [lattice] boundary")


def resolve_boundary(cfg, ctx):
    return ctx.deck.boundary if cfg["boundary"] == "lattice" else cfg["boundary"]


class Wilson:
    name = "wilson"
    description = "Wilson fermions, M = (4 + m) - D_w/2"
    field_shape = (4, 3)
    params = {
        "kappa": Param(float, None, "hopping parameter kappa = 1 / (2 m + 8) (give kappa or mass)"),
        "mass": Param(float, None, "bare mass m (give kappa or mass)"),
        "boundary": BOUNDARY,
    }

    @classmethod
    def validate_config(cls, cfg, registry):
        given = [k for k in ("kappa", "mass") if cfg[k] is not None]
        if len(given) != 1:
            return ("kappa", "give exactly one of 'kappa' and 'mass'")
        if cfg["kappa"] is not None and cfg["kappa"] <= 0:
            return ("kappa", "kappa must be positive")
        mass = cls.mass_of(cfg)
        if not math.isfinite(mass) or 2 * mass + 8 == 0:
            return (given[0], f"gives the bare mass m = {mass}, where kappa = 1 / (2 m + 8) is not finite")
        if cfg["boundary"] != "lattice" and isinstance(cfg["boundary"], str):
            return ("boundary", "expected a list of 4 numbers or 'lattice'")
        return None

    @classmethod
    def mass_of(cls, cfg):
        return kappa_to_mass(cfg["kappa"]) if cfg["kappa"] is not None else cfg["mass"]

    @classmethod
    def build(cls, gauge, cfg, ctx):
        return WilsonDirac(gauge, cls.mass_of(cfg), resolve_boundary(cfg, ctx))


class WilsonClover(Wilson):
    name = "wilson_clover"
    description = "Wilson-clover (Sheikholeslami-Wohlert) fermions"
    params = dict(Wilson.params, csw=Param(float, 1.0, "clover coefficient c_sw"))

    @classmethod
    def build(cls, gauge, cfg, ctx):
        return WilsonDirac(gauge, cls.mass_of(cfg), resolve_boundary(cfg, ctx), csw=cfg["csw"], clover=True)
