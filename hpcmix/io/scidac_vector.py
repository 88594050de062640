"""SciDAC color-vector and Dirac-fermion files (sources and solutions, as MILC, QIO and Chroma write).

A LIME file (see :mod:`hpcmix.io.lime`) whose first field has datatype ``QDP_<P>3_ColorVector``
(one 3-component color vector per site) or ``QDP_<P>3_DiracFermion`` (4 spins x 3 colors, spin
slowest), P = F (single) or D (double), ``datacount`` 1: per site (lexicographic, x fastest) the
big-endian (re, im) pairs. Checksum: SciDAC (suma, sumb) over each site's stored bytes.

In memory a vector is this rank's complex128 array ``[t, z, y, x, 3]`` (color vector) or
``[t, z, y, x, 4, 3]`` (Dirac fermion).
"""

import re

import numpy as np

from ..comm import collective
from ..errors import FormatError
from . import lime
from .checksum import compare, scidac_sums
from .sitefile import read_sites, write_file
from .warn import warn

_DATATYPE = re.compile(r"QDP_([FD])3_(ColorVector|DiracFermion)$")
#: Site shape of each kind of vector.
KINDS = {"ColorVector": (3,), "DiracFermion": (4, 3)}
_BYTES = {"F": 4, "D": 8}
_STORED = {"F": np.dtype(">c8"), "D": np.dtype(">c16")}


def vector_info(path):
    """(SciDAC field description, kind 'ColorVector' or 'DiracFermion') of a vector file; a
    FormatError if the file's first field is not a vector."""
    field = lime.scidac_field(path)
    match = _DATATYPE.match(field.datatype)
    if match is None or field.record.type != "scidac-binary-data":
        raise FormatError(f"not a SciDAC color-vector or Dirac-fermion file (datatype {field.datatype!r})", file=path)
    precision, kind = match.groups()
    expected = int(np.prod(KINDS[kind])) * 2 * _BYTES[precision]
    if field.precision != precision or field.typesize != expected or field.datacount != 1:
        raise FormatError(f"datatype {field.datatype} disagrees with precision {field.precision}, typesize "
                          f"{field.typesize} (expected {expected}) or datacount {field.datacount} (expected 1)",
                          file=path)
    return field, kind


def is_vector_file(path):
    """Whether ``path`` is a SciDAC color-vector or Dirac-fermion file."""
    try:
        return lime.is_lime(path) and vector_info(path) is not None
    except FormatError:
        return False


def read_vector(path, lattice, verify=True):
    """Collective: this rank's part of the vector in ``path``, complex128 ``[t, z, y, x, 3]`` or
    ``[t, z, y, x, 4, 3]``. A checksum mismatch is a FormatError (a warning with ``verify = False``)."""
    def read_local():
        field, kind = vector_info(path)
        if field.dims != list(lattice.dims):
            raise FormatError(f"file holds lattice {field.dims}, expected {lattice.dims}", file=path)
        if field.record.length != lattice.volume * field.typesize:
            raise FormatError(f"binary record has {field.record.length} bytes, expected "
                              f"{lattice.volume * field.typesize}", file=path)
        return field, kind, read_sites(path, field.record.offset, lattice, field.typesize)

    field, kind, raw = collective(lattice.pg, read_local, FormatError)
    if field.checksum is None:
        warn(f"{path}: no scidac-checksum record; data not verified")
    else:
        found = scidac_sums(raw, lattice)
        collective(lattice.pg, lambda: compare(path, "SciDAC checksum (suma sumb)", field.checksum, found, verify),
                   FormatError)
    return raw.view(_STORED[field.precision]).reshape(lattice.shape + KINDS[kind]).astype(np.complex128)


def write_vector(path, lattice, local_array, metadata=None, *, precision=None, overwrite=False):
    """Collective write of this rank's ``local_array`` (``[t, z, y, x, 3]`` color vector or
    ``[t, z, y, x, 4, 3]`` Dirac fermion). ``precision`` 'single' or 'double' (default: single for
    complex64 data, else double). Scalar ``metadata`` values go into the user record XML."""
    site_shape = tuple(local_array.shape[4:])
    kind = next((k for k, shape in KINDS.items() if shape == site_shape), None)
    if tuple(local_array.shape[:4]) != lattice.shape or kind is None:
        raise FormatError(f"vector has shape {local_array.shape}, expected {lattice.shape} + (3,) or (4, 3)",
                          file=path)
    if precision is None:
        precision = "single" if local_array.dtype == np.complex64 else "double"
    letter = {"single": "F", "double": "D"}.get(precision)
    if letter is None:
        raise FormatError(f"precision must be 'single' or 'double', not {precision!r}", file=path)
    stored = np.ascontiguousarray(local_array.astype(_STORED[letter]))
    local = stored.view(np.uint8).reshape(lattice.shape + (-1,))
    typesize = local.shape[-1]
    sums = scidac_sums(local, lattice)
    head, tail = lime.pack_around([
        [("scidac-private-file-xml", lime.xml_bytes(lime.private_file_xml(lattice.dims))),
         ("scidac-file-xml", lime.xml_bytes(lime.user_xml("hpcmixFile", {"creator": "hpcmix"})))],
        [("scidac-private-record-xml", lime.xml_bytes(lime.private_record_xml(
            f"QDP_{letter}3_{kind}", letter, typesize, 1, spins=4 if kind == "DiracFermion" else None))),
         ("scidac-record-xml", lime.xml_bytes(lime.user_xml("hpcmixVector", metadata or {}))),
         ("scidac-binary-data", None),
         ("scidac-checksum", lime.xml_bytes(lime.checksum_xml(*sums)))],
    ], lattice.volume * typesize)
    write_file(path, lattice, head, local, tail, overwrite=overwrite)
    return {"suma": sums[0], "sumb": sums[1]}
