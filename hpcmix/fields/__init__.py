"""Gauge and fermion fields on the distributed lattice."""

from .gauge import GaugeField
from .su3 import project_su3, random_su3, reunitarize_check

__all__ = ["GaugeField", "project_su3", "random_su3", "reunitarize_check"]
