"""Krylov solvers as composable operators; see :mod:`hpcmix.solvers.base`."""

from .base import InverseOperator, SolveResult, Solver
from .evenodd import EvenOdd, EvenOddNormal


def make_solver(registry, cfg):
    """A solver from its validated deck table ``{kind = ..., ...}``, nested preconditioners included."""
    cfg = dict(cfg)
    cls = registry.lookup("solvers", cfg.pop("kind"))
    if getattr(cls, "uses_registry", False):   # resolves precision names (plugins' included) in it
        cfg["registry"] = registry
    for key, value in list(cfg.items()):
        if isinstance(value, dict) and "kind" in value:
            cfg[key] = make_solver(registry, value)
        elif key == "preconditioner" and value == "none":
            cfg[key] = None
    return cls(**cfg)


__all__ = ["EvenOdd", "EvenOddNormal", "InverseOperator", "SolveResult", "Solver", "make_solver"]
