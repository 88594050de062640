"""MILC binary gauge configurations, version 5 (magic number 20103).

Layout (every integer in the file's byte order, which the magic number tells):

    int32 magic = 20103, int32 nx, ny, nz, nt, char time_stamp[64], int32 order (0 = natural),
    uint32 sum29, uint32 sum31                                            (96 bytes)
    V x 4 x 3 x 3 complex float32: sites in lexicographic order (x fastest), links mu = x, y, z, t,
    each a row-major 3x3 matrix of (re, im) pairs.

Checksum: with w_k the k-th 32-bit data word (as an integer in the file's byte order, k counted
from 0 over the whole data block), sum29 = XOR_k rotl32(w_k, k mod 29) and sum31 likewise with
31 (MILC's ``io_lat4.c``). MILC's files are single precision; only natural site order is read.
"""

import struct
import time
from pathlib import Path

import numpy as np

from ..comm import collective
from ..errors import FormatError
from ..fields import GaugeField
from .checksum import compare, rotated_xor, xor_over_ranks
from .formats import GaugeFormat
from .links import verify_links
from .sitefile import read_sites, write_file

MAGIC = 20103
HEADER_BYTES = 96
SITE_BYTES = 4 * 18 * 4
WORDS_PER_SITE = SITE_BYTES // 4
_HEADER = "i4i64si2I"


def read_header(path):
    """The header as a dict: byte_order ('<' or '>'), dims [X, Y, Z, T], time_stamp, order, sums."""
    with open(path, "rb") as f:
        raw = f.read(HEADER_BYTES)
    if len(raw) < 4:
        raise FormatError("file is too short for a MILC header", file=path)
    byte_order = next((e for e in "<>" if struct.unpack(e + "i", raw[:4])[0] == MAGIC), None)
    if byte_order is None:
        raise FormatError(f"not a MILC version 5 gauge file (magic number is not {MAGIC} in either byte order)",
                          file=path)
    if len(raw) < HEADER_BYTES:
        raise FormatError(f"file is truncated: {len(raw)} bytes, shorter than the MILC header", file=path)
    _, *rest = struct.unpack(byte_order + _HEADER, raw)
    dims, (stamp, order, sum29, sum31) = list(rest[:4]), rest[4:]
    if any(d <= 0 for d in dims):
        raise FormatError(f"header has lattice dimensions {dims}", file=path)
    if order != 0:
        raise FormatError(f"site order {order} is not supported (only natural order, 0)", file=path)
    return {"byte_order": byte_order, "dims": dims, "time_stamp": stamp.split(b"\0")[0].decode("ascii", "replace"),
            "sums": (sum29, sum31)}


def check_size(path, dims):
    """A FormatError unless the file is exactly as long as the header and the links of lattice ``dims``
    in single precision."""
    size, need = Path(path).stat().st_size, HEADER_BYTES + int(np.prod(dims)) * SITE_BYTES
    if size < need:
        raise FormatError(f"file is truncated: it has {size} bytes, its header's lattice {dims} needs {need}",
                          file=path)
    if size > need:
        raise FormatError(f"file has {size} bytes, {size - need} more than its header's lattice {dims} in "
                          f"single precision needs", file=path)


def checksum(words, lattice):
    """Collective (sum29, sum31) of the data words ``[t, z, y, x, 72]`` (integers), word k being the
    k-th of the whole data block."""
    k = lattice.global_index()[..., None] * WORDS_PER_SITE + np.arange(WORDS_PER_SITE)
    return xor_over_ranks(rotated_xor(words, k), lattice)


class MILCGaugeFormat(GaugeFormat):
    name = "milc"
    description = "MILC binary gauge configuration (version 5, single precision, either byte order)"
    can_write = True
    precisions = ("single",)

    def sniff(self, path):
        with open(path, "rb") as f:
            head = f.read(4)
        return len(head) == 4 and MAGIC in (struct.unpack("<i", head)[0], struct.unpack(">i", head)[0])

    def read_dims(self, path):
        dims = read_header(path)["dims"]
        check_size(path, dims)
        return dims

    def read(self, path, lattice, verify=True):
        def read_local():
            header = read_header(path)
            if header["dims"] != list(lattice.dims):
                raise FormatError(f"file holds lattice {header['dims']}, expected {lattice.dims}", file=path)
            check_size(path, header["dims"])
            return header, read_sites(path, HEADER_BYTES, lattice, SITE_BYTES)

        header, raw = collective(lattice.pg, read_local, FormatError)
        stored = raw.view(header["byte_order"] + "u4")
        found = checksum(stored, lattice)
        collective(lattice.pg, lambda: compare(path, "MILC checksum (sum29 sum31)", header["sums"], found, verify),
                   FormatError)
        links = raw.view(header["byte_order"] + "c8").reshape(lattice.shape + (4, 3, 3)).astype(np.complex128)
        gauge = GaugeField(lattice, links, {
            "file": str(path), "format": self.name, "precision": "single",
            "byte_order": "little" if header["byte_order"] == "<" else "big", "time_stamp": header["time_stamp"]})
        gauge.metadata["plaquette"] = collective(
            lattice.pg, lambda: verify_links(gauge, path, verify=verify, claims=None, stored_dtype=np.complex64),
            FormatError)
        return gauge

    def write(self, path, gauge, metadata=None, *, dtype=np.complex64, overwrite=False, byte_order="<"):
        """Collective write in single precision (``dtype`` must be complex64: the format has no other),
        in ``byte_order`` ('<' little or '>' big endian). A boundary sign taken out on reading
        (``metadata["boundary_sign_removed"]``) is noted after the time stamp."""
        if np.dtype(dtype) != np.complex64:
            raise FormatError(f"MILC binary files are single precision; cannot store {np.dtype(dtype)}", file=path)
        lattice = gauge.lattice
        local = np.ascontiguousarray(gauge.U.astype(byte_order + "c8")).view(np.uint8).reshape(lattice.shape + (-1,))
        sums = checksum(local.view(byte_order + "u4"), lattice)
        stamp = time.asctime()
        if "boundary_sign_removed" in (metadata or {}):     # the one place for metadata in a MILC header
            stamp += (f" boundary_sign_removed={metadata['boundary_sign_removed']}"
                      f" links={metadata['boundary_sign_links']}")
        head = struct.pack(byte_order + _HEADER, MAGIC, *lattice.dims, stamp.encode("ascii"), 0, *sums)
        write_file(path, lattice, head, local, overwrite=overwrite)
        return {"sum29": sums[0], "sum31": sums[1]}
