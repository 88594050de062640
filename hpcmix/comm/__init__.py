"""MPI layer: the 4-D process grid, halo exchange and float64 global reductions."""

from .grid import ProcessGrid, auto_grid, collective, world

__all__ = ["ProcessGrid", "auto_grid", "collective", "world"]
