"""Lattice Dirac operators and the linear-operator interface solvers work with."""

from .base import LinearOperator

__all__ = ["LinearOperator"]
