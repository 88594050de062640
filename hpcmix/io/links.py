"""Checks on gauge links read from other codes' files (on top of ``hdf5_gauge.verify_links``).

- Formats that never store a plaquette or link trace (MILC, ILDG) are checked for unitarity
  without the "no plaquette attribute" warning meant for hpcmix files that lost theirs.
- Some writers (QUDA) store the links with the antiperiodic time boundary sign multiplied in: the
  time links U_t(x, y, z, T-1) then have det U = -1. hpcmix keeps boundary phases out of stored
  links (operators apply them), so a reader of such a format recognizes exactly that pattern,
  takes the sign out again (exactly: a multiplication by -1) and says so in the metadata.
"""

import warnings

import numpy as np

from .hdf5_gauge import verify_links
from .warn import HpcmixWarning

_MISSING = r".*: no (plaquette|link_trace) attribute; not checked"


def check_quietly(gauge, path, *, verify, stored_dtype):
    """``verify_links`` for a format that claims no plaquette or link trace; returns the plaquette."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_MISSING, category=HpcmixWarning)
        return verify_links(gauge, path, verify=verify, attrs={}, stored_dtype=stored_dtype)


def remove_time_boundary_sign(gauge):
    """Collective. If the links with det U < 0 are exactly the time links of the last time slice,
    multiply them by -1 and record ``metadata["boundary_sign_removed"] = "t"``; returns whether it did."""
    lattice = gauge.lattice
    negative = np.linalg.det(gauge.U).real < 0
    last_time_links = (lattice.coordinate(3) == lattice.dims[3] - 1)[..., None] & (np.arange(4) == 3)
    counts = lattice.pg.sum_array([np.count_nonzero(negative), np.count_nonzero(negative & last_time_links)])
    slice_volume = lattice.volume // lattice.dims[3]
    if not counts[0] == counts[1] == slice_volume:
        return False
    gauge.U[negative] *= -1
    gauge.metadata["boundary_sign_removed"] = "t"
    return True
