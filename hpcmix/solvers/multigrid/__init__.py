"""Adaptive aggregation multigrid for Wilson and Wilson-clover (DESIGN.md, issue 10).

Modules, one job each: :mod:`.blocks` (geometric blocks and chirality split), :mod:`.nullspace` (near-null
vectors), :mod:`.transfer` (block-orthonormalized P and P^dag), :mod:`.levels` (what the setup asks of a level's
operator), :mod:`.coarse` (the stencil coarse operator), :mod:`.galerkin` (P^dag A P as that stencil),
:mod:`.hierarchy` (the setup of all levels), :mod:`.smoother` (MR steps), :mod:`.coarsest` (the coarsest level by
the dense LU with iterative refinement), :mod:`.persistence` (a setup in HDF5), :mod:`.reuse` (whether a saved
setup serves a run), :mod:`.cycle` (the K-cycle and the registered ``multigrid`` solver).
"""

from .coarse import CoarseOperator
from .cycle import KCycle, Multigrid
from .hierarchy import Hierarchy
from .transfer import Transfer

__all__ = ["CoarseOperator", "Hierarchy", "KCycle", "Multigrid", "Transfer"]
