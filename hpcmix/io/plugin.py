"""Built-in file formats, registered through the ``formats`` hook."""

from ..hookspecs import hookimpl
from .hdf5_gauge import HDF5GaugeFormat
from .ildg import ILDGGaugeFormat
from .milc import MILCGaugeFormat
from .nersc import NERSCGaugeFormat


@hookimpl
def formats():
    return [HDF5GaugeFormat(), ILDGGaugeFormat(), MILCGaugeFormat(), NERSCGaugeFormat()]
