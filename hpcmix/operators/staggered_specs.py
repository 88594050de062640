"""Registered staggered operator kinds: naive staggered and asqtad (MILC convention, M = 2 m + D_ks).

Deck examples:
    operator = { kind = "naive_staggered", mass = 0.1 }
    operator = { kind = "asqtad", mass = 0.1, u0 = 0.502 }
    operator = { kind = "asqtad", mass = 0.1, path_coefficients = [0.625, -0.1653413, -0.2480119,
                 0.2460397, -0.1627221, -0.9841587] }   # MILC's order: one-link, Naik, 3-, 5-, 7-staple, Lepage
"""

from ..params import ListOf, Param
from .asqtad_links import PATHS, asqtad_coefficients
from .specs import BOUNDARY, resolve_boundary
from .staggered import StaggeredDirac


def _positive(value):
    return None if value > 0 else "must be positive (the even-odd system divides by 2 m)"


MASS = Param(float, doc="bare quark mass m in M = 2 m + D_ks", check=_positive)


class NaiveStaggered:
    name = "naive_staggered"
    description = "naive (one-link) staggered fermions, M = 2 m + D_ks (MILC convention)"
    field_shape = (3,)
    needs_even_extents = True    # staggered phases and the parity structure of D are periodic only then
    params = {"mass": MASS, "boundary": BOUNDARY}

    @classmethod
    def validate_config(cls, cfg, registry):
        if cfg["boundary"] != "lattice" and isinstance(cfg["boundary"], str):
            return ("boundary", "expected a list of 4 numbers or 'lattice'")
        return None

    @classmethod
    def build(cls, gauge, cfg, ctx):
        return StaggeredDirac(gauge, cfg["mass"], resolve_boundary(cfg, ctx))


class Asqtad(NaiveStaggered):
    name = "asqtad"
    description = "asqtad staggered fermions (fat + Naik links), M = 2 m + D_ks (MILC convention)"
    reconstructs = (18,)     # fat and Naik links are sums of paths, not SU(3)
    params = dict(NaiveStaggered.params,
                  u0=Param(float, None, "tadpole factor; the path coefficients follow from it "
                           "(give u0 or path_coefficients)"),
                  path_coefficients=Param(ListOf(float, len(PATHS)), None,
                                          f"path coefficients in MILC's order ({', '.join(PATHS)}), tadpole "
                                          "factors folded in (give u0 or path_coefficients)"))

    @classmethod
    def validate_config(cls, cfg, registry):
        given = [k for k in ("u0", "path_coefficients") if cfg[k] is not None]
        if len(given) != 1:
            return ("u0", "give exactly one of 'u0' and 'path_coefficients'")
        if cfg["u0"] is not None and cfg["u0"] <= 0:
            return ("u0", "u0 must be positive")
        return super().validate_config(cfg, registry)

    @classmethod
    def coefficients(cls, cfg):
        return asqtad_coefficients(cfg["u0"]) if cfg["u0"] is not None else cfg["path_coefficients"]

    @classmethod
    def build(cls, gauge, cfg, ctx):
        return StaggeredDirac(gauge, cfg["mass"], resolve_boundary(cfg, ctx), cls.coefficients(cfg))
