"""NERSC archive gauge configurations (the Connection/QCDOC format Grid, CPS and MILC write).

Layout: an ASCII header of ``KEY = VALUE`` lines between ``BEGIN_HEADER`` and ``END_HEADER``, then
the data: per site (lexicographic, x fastest) the links mu = x, y, z, t, each as row-major
(re, im) pairs of its first two rows (``DATATYPE = 4D_SU3_GAUGE``; the third row is
conj(row0 x row1)) or of all three (``4D_SU3_GAUGE_3x3``), in ``FLOATING_POINT`` = IEEE32BIG,
IEEE32LITTLE, IEEE64BIG or IEEE64LITTLE (IEEE32 and IEEE64 alone mean big-endian).

Header values checked: ``DIMENSION_1..4`` (X, Y, Z, T); ``CHECKSUM``, the sum modulo 2^32 of the
data as 32-bit unsigned words (the stored numbers as written, so for 2-row files the two rows;
a 64-bit number contributes both its halves); ``PLAQUETTE`` = <Re tr U_P> / 3 and ``LINK_TRACE`` =
<Re tr U_mu> / 3, both normalized to 1 on the unit field as hpcmix's.
"""

import os
import time

import numpy as np

from ..comm import collective
from ..errors import FormatError
from ..fields import GaugeField
from ..fields.su3 import third_row
from .checksum import compare
from .formats import GaugeFormat
from .links import verify_links
from .sitefile import read_sites, write_file
from .warn import warn

BEGIN, END = b"BEGIN_HEADER", b"END_HEADER"
MAX_HEADER = 1 << 16
ROWS = {"4D_SU3_GAUGE": 2, "4D_SU3_GAUGE_3x3": 3}
FLOATING_POINT = {"IEEE32BIG": ">f4", "IEEE32LITTLE": "<f4", "IEEE64BIG": ">f8", "IEEE64LITTLE": "<f8",
                  "IEEE32": ">f4", "IEEE64": ">f8"}


def read_header(path):
    """(header dict of strings, byte offset of the data)."""
    with open(path, "rb") as f:
        raw = f.read(MAX_HEADER)
    if not raw.startswith(BEGIN):
        raise FormatError("not a NERSC file (no BEGIN_HEADER)", file=path)
    end = raw.find(END)
    newline = raw.find(b"\n", end)
    if end < 0 or newline < 0:
        raise FormatError(f"no END_HEADER line in the first {MAX_HEADER} bytes", file=path)
    header = {}
    for line in raw[len(BEGIN):end].decode("ascii", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            header[key.strip()] = value.strip()
    return header, newline + 1


def layout(header, path):
    """(dims [X, Y, Z, T], rows stored per link, numpy float type of the data) from the header."""
    try:
        dims = [int(header[f"DIMENSION_{i}"]) for i in range(1, 5)]
    except (KeyError, ValueError):
        raise FormatError("header lacks valid DIMENSION_1..DIMENSION_4", file=path) from None
    if any(d <= 0 for d in dims):
        raise FormatError(f"header has lattice dimensions {dims}", file=path)
    datatype, floating = header.get("DATATYPE"), header.get("FLOATING_POINT")
    if datatype not in ROWS:
        raise FormatError(f"DATATYPE {datatype!r} is not one of {', '.join(ROWS)}", file=path)
    if floating not in FLOATING_POINT:
        raise FormatError(f"FLOATING_POINT {floating!r} is not one of {', '.join(FLOATING_POINT)}", file=path)
    return dims, ROWS[datatype], np.dtype(FLOATING_POINT[floating])


def site_bytes(rows, real):
    """Bytes of one site's 4 links with ``rows`` rows of 3 complex numbers of float type ``real``."""
    return 4 * rows * 3 * 2 * real.itemsize


def check_size(path, offset, dims, rows, real):
    """A FormatError unless the file is exactly as long as the header (``offset`` bytes) and the links
    it describes."""
    size, need = os.path.getsize(path), offset + int(np.prod(dims)) * site_bytes(rows, real)
    if size < need:
        raise FormatError(f"file is truncated: it has {size} bytes, its header (lattice {dims}, {rows} rows, "
                          f"{8 * real.itemsize}-bit) needs {need}", file=path)
    if size > need:
        raise FormatError(f"file has {size - need} bytes more than its header (lattice {dims}, {rows} rows, "
                          f"{8 * real.itemsize}-bit) describes", file=path)


def local_sum(values):
    """Sum modulo 2^32 of the 32-bit words of this rank's stored numbers (a Python int)."""
    words = np.ascontiguousarray(values).astype(values.dtype.newbyteorder("="), copy=False).view(np.uint32)
    return int(words.sum(dtype=np.uint64)) & 0xFFFFFFFF


def checksum(values, lattice):
    """Collective NERSC checksum: exact integer sum of the ranks' partial sums, modulo 2^32."""
    return sum(lattice.pg.allgather(local_sum(values))) & 0xFFFFFFFF


def hex_value(text, path):
    try:
        return int(text, 16)
    except ValueError:
        raise FormatError(f"CHECKSUM {text!r} is not hexadecimal", file=path) from None


def claims(header, path):
    """The header's PLAQUETTE and LINK_TRACE as verify_links attributes."""
    out = {}
    for key in ("PLAQUETTE", "LINK_TRACE"):
        if key in header:
            try:
                out[key.lower()] = float(header[key])
            except ValueError:
                raise FormatError(f"{key} {header[key]!r} is not a number", file=path) from None
    return out


def full_matrices(stored, rows):
    """3x3 complex128 links from the stored rows (reconstructing the third where 2 are stored)."""
    links = stored.astype(np.complex128)
    if rows == 3:
        return links
    return np.concatenate([links, third_row(links[..., 0, :], links[..., 1, :])[..., None, :]], axis=-2)


class NERSCGaugeFormat(GaugeFormat):
    name = "nersc"
    description = "NERSC archive gauge configuration (2-row or 3x3, IEEE32/64, big or little endian)"
    can_write = True

    def sniff(self, path):
        with open(path, "rb") as f:
            return f.read(len(BEGIN)) == BEGIN

    def read_dims(self, path):
        header, offset = read_header(path)
        dims, rows, real = layout(header, path)
        check_size(path, offset, dims, rows, real)
        return dims

    def read(self, path, lattice, verify=True):
        def read_local():
            header, offset = read_header(path)
            dims, rows, real = layout(header, path)
            if dims != list(lattice.dims):
                raise FormatError(f"file holds lattice {dims}, expected {lattice.dims}", file=path)
            check_size(path, offset, dims, rows, real)
            return header, rows, real, read_sites(path, offset, lattice, site_bytes(rows, real))

        header, rows, real, raw = collective(lattice.pg, read_local, FormatError)
        values = raw.view(real)
        if "CHECKSUM" not in header:
            warn(f"{path}: no CHECKSUM in the header; data not verified")
        else:
            found = checksum(values, lattice)
            collective(lattice.pg, lambda: compare(path, "NERSC CHECKSUM", [hex_value(header["CHECKSUM"], path)],
                                                   [found], verify), FormatError)
        stored = values.view(np.dtype(f"{real.byteorder}c{2 * real.itemsize}"))
        links = full_matrices(stored.reshape(lattice.shape + (4, rows, 3)), rows)
        gauge = GaugeField(lattice, links, {"file": str(path), "format": self.name,
                                            "precision": "single" if real.itemsize == 4 else "double",
                                            "header": header})
        gauge.metadata["plaquette"] = collective(
            lattice.pg, lambda: verify_links(gauge, path, verify=verify, claims=claims(header, path),
                                             stored_dtype=np.complex64 if real.itemsize == 4 else np.complex128),
            FormatError)
        return gauge

    def write(self, path, gauge, metadata=None, *, dtype=np.complex128, overwrite=False, rows=3, byte_order=">"):
        """Collective write (``metadata`` keys ensemble_id, ensemble_label, sequence_number, and
        boundary_sign_removed and boundary_sign_links where a reader took a sign out, go into the
        header): ``rows`` = 3 (``4D_SU3_GAUGE_3x3``) or 2 (``4D_SU3_GAUGE``), IEEE64 for
        complex128 or IEEE32 for complex64, big (``byte_order`` '>') or little ('<') endian.
        The header's PLAQUETTE and LINK_TRACE are those of the links as a reader will rebuild them."""
        if rows not in (2, 3):
            raise FormatError(f"NERSC stores 2 or 3 rows per link, not {rows}", file=path)
        if np.dtype(dtype) not in (np.dtype(np.complex64), np.dtype(np.complex128)):
            raise FormatError(f"NERSC files hold complex64 or complex128, not {np.dtype(dtype)}", file=path)
        lattice = gauge.lattice
        real = np.dtype(f"{byte_order}f{np.dtype(dtype).itemsize // 2}")
        stored = np.ascontiguousarray(gauge.U[..., :rows, :].astype(f"{byte_order}c{2 * real.itemsize}"))
        rebuilt = GaugeField(lattice, full_matrices(stored, rows))
        bits = 8 * real.itemsize
        header = {
            "HDR_VERSION": "1.0",
            "DATATYPE": "4D_SU3_GAUGE" if rows == 2 else "4D_SU3_GAUGE_3x3",
            "STORAGE_FORMAT": "1.0",
            **{f"DIMENSION_{i + 1}": str(d) for i, d in enumerate(lattice.dims)},
            **{f"BOUNDARY_{i + 1}": "PERIODIC" for i in range(4)},
            "CHECKSUM": f"{checksum(stored.view(real), lattice):08x}",
            "LINK_TRACE": f"{rebuilt.link_trace():.10f}",
            "PLAQUETTE": f"{rebuilt.plaquette():.10f}",
            "CREATOR": "hpcmix",
            "CREATION_DATE": time.asctime(),
            "FLOATING_POINT": f"IEEE{bits}{'BIG' if byte_order == '>' else 'LITTLE'}",
        }
        for key in ("ensemble_id", "ensemble_label", "sequence_number", "boundary_sign_removed",
                    "boundary_sign_links"):
            if key in (metadata or {}):
                header[key.upper()] = str(metadata[key])
        text = "BEGIN_HEADER\n" + "".join(f"{k} = {v}\n" for k, v in header.items()) + "END_HEADER\n"
        write_file(path, lattice, text.encode("ascii"), stored.view(np.uint8).reshape(lattice.shape + (-1,)),
                   overwrite=overwrite)
        return header
