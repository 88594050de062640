"""ILDG and SciDAC gauge configurations in LIME files (see :mod:`hpcmix.io.lime` for the records).

The gauge field is the binary record ``ildg-binary-data`` (precision from ``ildg-format``:
32 or 64) or ``scidac-binary-data`` with 4 matrices per site (precision F or D from
``scidac-private-record-xml``): per site (lexicographic, x fastest) the links mu = x, y, z, t,
each a row-major 3x3 matrix of big-endian (re, im) pairs. Checksum: SciDAC (suma, sumb) over
each site's stored bytes, from the ``scidac-checksum`` record. Every non-binary record is kept as
text in ``metadata["xml"]``. The plaquette and link trace hpcmix writes into its user record XML
(``<hpcmixGauge>``) are checked when it reads its own files back. Links with the antiperiodic
time sign baked in (as QUDA writes them) are recognized and the sign is taken out again
(:func:`hpcmix.io.links.remove_time_boundary_sign`).

Files are written as ILDG with the SciDAC records too (as MILC and Chroma write them), so both
ILDG and SciDAC readers take them.
"""

from pathlib import Path

import numpy as np

from ..comm import collective
from ..errors import FormatError
from ..fields import GaugeField
from . import lime
from .checksum import compare, scidac_sums
from .formats import GaugeFormat
from .links import remove_time_boundary_sign, verify_links
from .sitefile import read_sites, write_file
from .warn import warn

_BYTES = {"F": 4, "D": 8}
_PRECISION_NAME = {"F": "single", "D": "double"}
_STORED = {"F": np.dtype(">c8"), "D": np.dtype(">c16")}
#: Root element of the user record XML hpcmix writes (with the plaquette and link trace it checks).
USER_ROOT = "hpcmixGauge"


def _is_gauge(field):
    return field.record.type == "ildg-binary-data" or (
        field.datacount == 4 and field.typesize == 18 * _BYTES[field.precision])


def gauge_field(path):
    """The SciDAC field description of a gauge file: a FormatError if it holds no gauge field, or if
    its binary record's length is not that of the lattice its headers state."""
    field = lime.scidac_field(path)
    if not _is_gauge(field):
        raise FormatError(f"its first field is not a gauge field (datatype {field.datatype!r}, typesize "
                          f"{field.typesize}, datacount {field.datacount})", file=path)
    need = int(np.prod(field.dims)) * _site_bytes(field)
    if field.record.length != need:
        raise FormatError(f"binary record '{field.record.type}' has {field.record.length} bytes, expected "
                          f"{need} for lattice {field.dims} in {_PRECISION_NAME[field.precision]} precision",
                          file=path)
    return field


def _site_bytes(field):
    return 4 * 18 * _BYTES[field.precision]


def written_values(field, path):
    """The plaquette and link trace hpcmix writes into its own files' record XML ({} for others')."""
    user = field.xml.get("scidac-record-xml", "")
    if f"<{USER_ROOT}>" not in user:
        return {}
    values = lime.xml_fields(user)
    try:
        return {k: float(values[k]) for k in ("plaquette", "link_trace") if k in values}
    except ValueError:
        raise FormatError("record XML has a plaquette or link trace that is not a number", file=path) from None


def ildg_format_xml(precision, dims):
    bits = 8 * _BYTES[precision]
    extents = "".join(f"<{k}>{d}</{k}>" for k, d in zip(("lx", "ly", "lz", "lt"), dims))
    return ('<?xml version="1.0" encoding="UTF-8"?><ildgFormat xmlns="http://www.lqcd.org/ildg" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://www.lqcd.org/ildg/filefmt.xsd"><version>1.0</version>'
            f'<field>su3gauge</field><precision>{bits}</precision>{extents}</ildgFormat>')


class ILDGGaugeFormat(GaugeFormat):
    name = "ildg"
    description = "ILDG / SciDAC LIME gauge configuration (single or double precision)"
    can_write = True
    keeps_metadata = True

    def sniff(self, path):
        return lime.is_lime(path) and _is_gauge(lime.scidac_field(path))

    def read_dims(self, path):
        return gauge_field(path).dims

    def read(self, path, lattice, verify=True):
        def read_local():
            field = gauge_field(path)
            if field.dims != list(lattice.dims):
                raise FormatError(f"file holds lattice {field.dims}, expected {lattice.dims}", file=path)
            return field, read_sites(path, field.record.offset, lattice, _site_bytes(field))

        field, raw = collective(lattice.pg, read_local, FormatError)
        if field.checksum is None:
            warn(f"{path}: no scidac-checksum record; data not verified")
        else:
            found = scidac_sums(raw, lattice)
            collective(lattice.pg, lambda: compare(path, "SciDAC checksum (suma sumb)", field.checksum, found, verify),
                       FormatError)
        stored = _STORED[field.precision]
        links = raw.view(stored).reshape(lattice.shape + (4, 3, 3)).astype(np.complex128)
        gauge = GaugeField(lattice, links, {
            "file": str(path), "format": self.name, "precision": _PRECISION_NAME[field.precision],
            "record": field.record.type, "datatype": field.datatype, "xml": field.xml})
        remove_time_boundary_sign(gauge)
        claims = written_values(field, path)
        native = stored.newbyteorder("=")
        gauge.metadata["plaquette"] = collective(
            lattice.pg, lambda: verify_links(gauge, path, verify=verify, claims=claims or None, stored_dtype=native),
            FormatError)
        return gauge

    def write(self, path, gauge, metadata=None, *, dtype=np.complex128, overwrite=False):
        """Collective write of an ILDG file in the precision of ``dtype`` (complex128 or complex64).
        Scalar ``metadata`` values go into the user record XML; ``metadata["lfn"]`` is the ILDG
        logical file name (default ``lfn://hpcmix/<file name>``)."""
        precision = {np.dtype(np.complex64): "F", np.dtype(np.complex128): "D"}.get(np.dtype(dtype))
        if precision is None:
            raise FormatError(f"ILDG files hold complex64 or complex128, not {np.dtype(dtype)}", file=path)
        lattice, metadata = gauge.lattice, dict(metadata or {})
        stored = np.ascontiguousarray(gauge.U.astype(_STORED[precision]))
        local = stored.view(np.uint8).reshape(lattice.shape + (-1,))
        sums = scidac_sums(local, lattice)
        rounded = GaugeField(lattice, stored.astype(np.complex128))
        values = {"plaquette": repr(rounded.plaquette()), "link_trace": repr(rounded.link_trace()),
                  **{k: v for k, v in metadata.items() if k not in ("plaquette", "link_trace", "lfn")}}
        lfn = metadata.get("lfn", f"lfn://hpcmix/{Path(path).name}")
        typesize = 18 * _BYTES[precision]
        head, tail = lime.pack_around([
            [("scidac-private-file-xml", lime.xml_bytes(lime.private_file_xml(lattice.dims))),
             ("scidac-file-xml", lime.xml_bytes(lime.user_xml("hpcmixFile", {"creator": "hpcmix"})))],
            [("scidac-private-record-xml",
              lime.xml_bytes(lime.private_record_xml(f"QDP_{precision}3_ColorMatrix", precision, typesize, 4))),
             ("scidac-record-xml", lime.xml_bytes(lime.user_xml(USER_ROOT, values))),
             ("ildg-format", lime.xml_bytes(ildg_format_xml(precision, lattice.dims))),
             ("ildg-data-lfn", lfn.encode("utf-8")),
             ("ildg-binary-data", None),
             ("scidac-checksum", lime.xml_bytes(lime.checksum_xml(*sums)))],
        ], lattice.volume * 4 * typesize)
        write_file(path, lattice, head, local, tail, overwrite=overwrite)
        return {"suma": sums[0], "sumb": sums[1], "plaquette": float(values["plaquette"])}
