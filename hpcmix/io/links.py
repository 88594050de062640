"""Checks on gauge links read from files, shared by every format.

- :func:`verify_links`: unitarity, and the plaquette and link trace against the values the file
  claims. Formats that never store them (MILC, ILDG) pass ``claims=None`` and get no warning about
  their absence; a format that should have them (hpcmix HDF5) warns where one is missing.
- Some writers (QUDA) store the links with the antiperiodic time boundary sign multiplied in: the
  time links U_t(x, y, z, T-1) then have det U = -1. hpcmix keeps boundary phases out of stored
  links (operators apply them), so a reader of such a format recognizes exactly that pattern,
  takes the sign out again (exactly: a multiplication by -1) and records it in the metadata
  (``boundary_sign_removed``, ``boundary_sign_links``), which ``load_gauge`` and ``hpcmix convert``
  log (:func:`boundary_sign_note`) and keep in their results and output files.
- :func:`reunitarize`: on request (``load_gauge`` ``reunitarize = true``), every link projected onto
  SU(3) in float64, as MILC does when it reads single-precision files.
"""

import numpy as np

from ..errors import FormatError
from ..fields.su3 import reunitarize_check, third_row
from .warn import warn, warn_unverified

#: Unitarity tolerance (max |U^dag U - 1|, ||det U| - 1|) per stored type. Double-precision files
#: may hold links that were single precision once (a MILC field saved in double), so the check
#: looks for gross misreadings (byte order, layout); corruption is the checksums' job.
UNITARITY_TOLERANCE = {np.dtype(np.complex128): 2e-6, np.dtype(np.complex64): 2e-5}
#: Agreement of the recomputed plaquette and link trace with the file's claims.
CLAIM_TOLERANCE = {np.dtype(np.complex128): 1e-10, np.dtype(np.complex64): 1e-5}


def verify_links(gauge, path, *, verify, claims, stored_dtype):
    """Collective load checks; returns the plaquette. ``claims`` holds the values the file states
    ("plaquette", "link_trace"), or None for a format that never states them. A failed check is a
    FormatError, or with ``verify=False`` a warning."""
    lattice = gauge.lattice
    dtype = np.dtype(stored_dtype)
    dev, det = reunitarize_check(gauge.U)
    dev, det = lattice.pg.max(dev), lattice.pg.max(det)
    problems = []
    if max(dev, det) > UNITARITY_TOLERANCE.get(dtype, 2e-5):
        problems.append(f"links are not unitary (max |U^dag U - 1| = {dev:.2e}, max ||det U| - 1| = {det:.2e})")
    plaq = gauge.plaquette()
    for key, value in (("plaquette", plaq), ("link_trace", gauge.link_trace())) if claims is not None else ():
        if key not in claims:
            warn(f"{path}: no {key} attribute; not checked (recomputed: {value:.12f})")
        elif abs(float(claims[key]) - value) > CLAIM_TOLERANCE.get(dtype, 1e-5):
            problems.append(f"{key} {value:.12f} recomputed from the links differs from the file's "
                            f"{float(claims[key]):.12f}")
    for p in problems:
        if verify:
            raise FormatError(p, file=path)
        warn_unverified(path, p)
    return plaq


def remove_time_boundary_sign(gauge):
    """Collective. If the links with det U < 0 are exactly the time links of the last time slice,
    multiply them by -1 and record ``metadata["boundary_sign_removed"] = "t"`` and the number of links,
    ``metadata["boundary_sign_links"]``; returns whether it did."""
    lattice = gauge.lattice
    negative = np.linalg.det(gauge.U).real < 0
    last_time_links = (lattice.coordinate(3) == lattice.dims[3] - 1)[..., None] & (np.arange(4) == 3)
    counts = lattice.pg.sum_array([np.count_nonzero(negative), np.count_nonzero(negative & last_time_links)])
    slice_volume = lattice.volume // lattice.dims[3]
    if not counts[0] == counts[1] == slice_volume:
        return False
    gauge.U[negative] *= -1
    gauge.metadata.update(boundary_sign_removed="t", boundary_sign_links=int(counts[0]))
    return True


def boundary_sign_note(metadata):
    """The log line saying that the boundary sign was taken out of links read from a file, or None."""
    if "boundary_sign_removed" not in metadata:
        return None
    return (f"{metadata.get('file', 'the file')}: the time links of the last time slice carried the antiperiodic "
            f"boundary sign (det U = -1, as QUDA writes them); took it out of {metadata['boundary_sign_links']} "
            "links (hpcmix's operators apply the boundary phases)")


def reunitarize(gauge):
    """Collective: replace every link by an SU(3) matrix in float64, MILC's way: the first row
    normalized, the second made orthogonal to it (Gram-Schmidt) and normalized, the third
    conj(row0 x row1), so det U = 1. Returns the largest change of a link entry,
    max |U'_ab - U_ab| over the whole lattice, and records it as ``metadata["reunitarized"]``."""
    links = np.asarray(gauge.U, dtype=np.complex128)
    a = _normalized(links[..., 0, :])
    b = links[..., 1, :]
    b = _normalized(b - np.sum(np.conj(a) * b, axis=-1, keepdims=True) * a)
    projected = np.stack([a, b, third_row(a, b)], axis=-2)
    change = gauge.lattice.pg.max(float(np.abs(projected - links).max(initial=0.0)))
    gauge.U = projected
    gauge.metadata["reunitarized"] = change
    return change


def _normalized(rows):
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)
