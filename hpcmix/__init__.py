"""hpcmix: MPI-parallel mixed-precision linear solvers for lattice QCD and dense systems."""

__version__ = "0.1.0"

from .hookspecs import hookimpl  # noqa: E402  (the one marker plugins need)

__all__ = ["__version__", "hookimpl"]
