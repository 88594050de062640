"""Built-in solvers, registered through the ``solvers`` hook."""

from ..hookspecs import hookimpl
from .bicgstab import BiCGstab
from .cg import CG
from .defect_correction import DefectCorrection
from .eigcg import EigCG
from .gcr import GCR
from .gmresdr import GMRESDR
from .mr import MR
from .multigrid import Multigrid


@hookimpl
def solvers():
    return [CG, BiCGstab, GCR, GMRESDR, MR, DefectCorrection, EigCG, Multigrid]
