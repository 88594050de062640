"""LIME records and the SciDAC message structure built on them (c-lime, SciDAC and ILDG layout).

A LIME file is a sequence of records, each a 144-byte big-endian header followed by its data,
padded with zeros to a multiple of 8 bytes:

    uint32 magic = 0x456789ab, uint16 version = 1, uint16 flags (bit 15: MB, message begin;
    bit 14: ME, message end), uint64 data length (unpadded), char type[128] (NUL-padded)

A SciDAC lattice-field file holds a file message (``scidac-private-file-xml`` with the lattice
``<dims>``, then the user's ``scidac-file-xml``) and, per field, a record message:
``scidac-private-record-xml`` (``datatype``, ``precision`` F/D, ``typesize``, ``datacount``),
``scidac-record-xml`` (user XML), for ILDG ``ildg-format`` and ``ildg-data-lfn``, the binary
record (``scidac-binary-data`` or ``ildg-binary-data``: big-endian, one ``typesize x datacount``
record per site, sites in lexicographic order) and ``scidac-checksum`` (``suma``, ``sumb``).
"""

import re
import struct
import time
import xml.etree.ElementTree as ET
from collections import namedtuple
from xml.sax.saxutils import escape

from ..errors import FormatError

MAGIC = 0x456789AB
VERSION = 1
HEADER_BYTES = 144
_HEADER = ">IHHQ128s"
_MB, _ME = 0x8000, 0x4000
BINARY_TYPES = ("ildg-binary-data", "scidac-binary-data")

#: One record: its type, the byte offset and length of its data, and its message-begin/end flags.
Record = namedtuple("Record", "type offset length mb me")


def is_lime(path):
    with open(path, "rb") as f:
        head = f.read(4)
    return len(head) == 4 and struct.unpack(">I", head)[0] == MAGIC


def scan(path):
    """Every record of a LIME file (reads the record headers only)."""
    records = []
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        offset = 0
        while offset < size:
            f.seek(offset)
            raw = f.read(HEADER_BYTES)
            if len(raw) < HEADER_BYTES:
                raise FormatError(f"file is truncated: a LIME record header at byte {offset} is cut off", file=path)
            magic, _, flags, length, kind = struct.unpack(_HEADER, raw)
            if magic != MAGIC:
                raise FormatError(f"bad LIME record header at byte {offset} (magic {magic:#010x}, expected "
                                  f"{MAGIC:#010x})", file=path)
            kind = kind.split(b"\0")[0].decode("ascii", "replace")
            data = offset + HEADER_BYTES
            if data + length > size:
                raise FormatError(f"file is truncated: LIME record '{kind}' at byte {offset} needs {length} data "
                                  f"bytes, the file ends after {size - data}", file=path)
            records.append(Record(kind, data, length, bool(flags & _MB), bool(flags & _ME)))
            offset = data + (length + 7) // 8 * 8
    if not records:
        raise FormatError("empty LIME file", file=path)
    return records


def messages(records):
    """The records grouped into messages (by their MB flags)."""
    out = []
    for r in records:
        if r.mb or not out:
            out.append([])
        out[-1].append(r)
    return out


def read_record(path, record):
    with open(path, "rb") as f:
        f.seek(record.offset)
        return f.read(record.length)


def text(data):
    """A record's data as text (a trailing NUL, as c-lime writers leave it, removed)."""
    return data.split(b"\0")[0].decode("utf-8", "replace")


def xml_fields(string):
    """The leaf elements of a small XML document as {local tag name: text} (namespaces dropped);
    empty where the string is not XML."""
    try:
        root = ET.fromstring(string.strip())
    except ET.ParseError:
        return {}
    return {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in root.iter() if len(el) == 0}


def header(kind, length, mb=False, me=False):
    return struct.pack(_HEADER, MAGIC, VERSION, (_MB if mb else 0) | (_ME if me else 0), length, kind.encode("ascii"))


def pack(kind, data, mb=False, me=False):
    """One record: header, data and zero padding."""
    return header(kind, len(data), mb, me) + data + b"\0" * (-len(data) % 8)


def pack_around(message_list, binary_length):
    """The bytes before and after the one binary record in ``message_list`` (lists of (type, data)
    pairs; the binary record's data is None and ``binary_length`` bytes long): (head, tail), head
    ending with the binary record's header, tail starting with its padding."""
    head, tail = [], []
    part = head
    for message in message_list:
        for i, (kind, data) in enumerate(message):
            mb, me = i == 0, i == len(message) - 1
            if data is None:
                head.append(header(kind, binary_length, mb, me))
                tail.append(b"\0" * (-binary_length % 8))
                part = tail
            else:
                part.append(pack(kind, data, mb, me))
    return b"".join(head), b"".join(tail)


# ---- SciDAC lattice fields ----------------------------------------------------------------------
#: The first lattice field of a SciDAC/ILDG file: extents [X, Y, Z, T], its binary Record, the
#: private record XML's datatype, precision ('F' or 'D'), typesize and datacount, the checksum
#: (suma, sumb) or None, and the text of every other record {type: text} (first of each type).
Field = namedtuple("Field", "dims record datatype precision typesize datacount checksum xml")

_ILDG_DIMS = ("lx", "ly", "lz", "lt")


def _ints(path, fields, key, where):
    try:
        return int(fields[key])
    except (KeyError, ValueError):
        raise FormatError(f"{where} has no valid <{key}>", file=path) from None


def scidac_field(path):
    """The first binary record of a SciDAC or ILDG LIME file and what its messages say about it."""
    xml, fields, dims = {}, {}, None
    for message in messages(scan(path)):
        binary = next((r for r in message if r.type in BINARY_TYPES), None)
        for r in message:
            if r is not binary and r.type not in xml:
                xml[r.type] = text(read_record(path, r))
                fields[r.type] = xml_fields(xml[r.type])
        if binary is not None:
            break
    else:
        raise FormatError("no binary data record (scidac-binary-data or ildg-binary-data)", file=path)
    if "scidac-private-file-xml" in fields:
        private = fields["scidac-private-file-xml"]
        try:
            dims = [int(d) for d in private["dims"].split()]
        except (KeyError, ValueError):
            raise FormatError("scidac-private-file-xml has no valid <dims>", file=path) from None
        if private.get("volfmt", "0") != "0":
            raise FormatError(f"volume format {private['volfmt']} is not supported (only single files, volfmt 0)",
                              file=path)
    if "ildg-format" in fields:
        ildg = fields["ildg-format"]
        ildg_dims = [_ints(path, ildg, k, "ildg-format") for k in _ILDG_DIMS]
        if dims is not None and dims != ildg_dims:
            raise FormatError(f"ildg-format says lattice {ildg_dims}, scidac-private-file-xml {dims}", file=path)
        dims = ildg_dims
    if dims is None or len(dims) != 4 or any(d <= 0 for d in dims):
        raise FormatError(f"no valid 4-d lattice dimensions (found {dims})", file=path)
    record = fields.get("scidac-private-record-xml", {})
    precision = record.get("precision", "").upper()
    if binary.type == "ildg-binary-data" and "ildg-format" in fields:
        bits = _ints(path, fields["ildg-format"], "precision", "ildg-format")
        if bits not in (32, 64):
            raise FormatError(f"ildg-format precision {bits} is not 32 or 64", file=path)
        precision = "F" if bits == 32 else "D"
        typesize, datacount = 18 * bits // 8, 4
        datatype = record.get("datatype", "ildg su3gauge")
    else:
        if precision not in ("F", "D"):
            raise FormatError(f"scidac-private-record-xml precision {precision or 'missing'} is not F or D", file=path)
        where = "scidac-private-record-xml"
        typesize, datacount = _ints(path, record, "typesize", where), _ints(path, record, "datacount", where)
        datatype = record.get("datatype", "")
    checksum = None
    if "scidac-checksum" in fields:
        try:
            checksum = (int(fields["scidac-checksum"]["suma"], 16), int(fields["scidac-checksum"]["sumb"], 16))
        except (KeyError, ValueError):
            raise FormatError("scidac-checksum record has no valid suma and sumb", file=path) from None
    return Field(dims, binary, datatype, precision, typesize, datacount, checksum, xml)


def private_file_xml(dims):
    return (f'<?xml version="1.0" encoding="UTF-8"?><scidacFile><version>1.1</version><spacetime>4</spacetime>'
            f'<dims>{" ".join(str(d) for d in dims)} </dims><volfmt>0</volfmt></scidacFile>')


def private_record_xml(datatype, precision, typesize, datacount, spins=None):
    stamp = time.strftime("%a %b %d %H:%M:%S %Y UTC", time.gmtime())
    spin = f"<spins>{spins}</spins>" if spins else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><scidacRecord><version>1.1</version><date>{stamp}</date>'
            f'<recordtype>0</recordtype><datatype>{datatype}</datatype><precision>{precision}</precision>'
            f'<colors>3</colors>{spin}<typesize>{typesize}</typesize><datacount>{datacount}</datacount></scidacRecord>')


def checksum_xml(suma, sumb):
    return (f'<?xml version="1.0" encoding="UTF-8"?><scidacChecksum><version>1.0</version>'
            f'<suma>{suma:x}</suma><sumb>{sumb:x}</sumb></scidacChecksum>')


def user_xml(root, values):
    """A flat user XML record ``<root><key>value</key>...</root>`` from the scalar (str, int, float)
    values of a dict, under XML-safe names."""
    safe = {re.sub(r"[^A-Za-z0-9_.-]", "_", str(k)): v for k, v in values.items() if isinstance(v, (str, int, float))}
    body = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in safe.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><{root}>{body}</{root}>'


def xml_bytes(string):
    """An XML record's data, NUL-terminated as c-lime/QIO write it."""
    return string.encode("utf-8") + b"\0"
