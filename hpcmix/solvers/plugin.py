"""Built-in solvers, registered through the ``solvers`` hook."""

from ..hookspecs import hookimpl
from .bicgstab import BiCGstab
from .cg import CG
from .defect_correction import DefectCorrection
from .gcr import GCR
from .mr import MR


@hookimpl
def solvers():
    return [CG, BiCGstab, GCR, MR, DefectCorrection]
