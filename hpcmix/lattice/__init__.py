"""Local geometry of the distributed lattice."""

from .geometry import Lattice

__all__ = ["Lattice"]
