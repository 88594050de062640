"""Order-independent checksums that each rank computes on its own sites and XOR-reduces.

SciDAC convention (also used by hpcmix's HDF5 format): for the site with global lexicographic index
s and stored bytes b_s, c_s = crc32(b_s); suma = XOR_s rotl32(c_s, s mod 29), sumb = XOR_s
rotl32(c_s, s mod 31).
MILC (sum29, sum31) rotates the data's 32-bit words instead: w_k with k the word's global index in
the file's data (site-major), so k = 72 s + j for word j of site s.
"""

import zlib

import numpy as np

from ..errors import FormatError
from .warn import warn_unverified


def rotl32(values, shifts):
    """Rotate 32-bit unsigned integers left (vectorized)."""
    values = np.asarray(values, dtype=np.uint64) & 0xFFFFFFFF
    shifts = np.asarray(shifts, dtype=np.uint64)
    return (((values << shifts) | (values >> ((32 - shifts) % 32))) & 0xFFFFFFFF).astype(np.uint32)


def xor_reduce(values):
    values = np.asarray(values, dtype=np.uint32).ravel()
    return int(np.bitwise_xor.reduce(values)) if values.size else 0


def rotated_xor(values, index):
    """Partial (XOR_k rotl32(v_k, k mod 29), XOR_k rotl32(v_k, k mod 31)) over the values given with
    their global indices k: the pair of checksums of SciDAC (v = site CRC32s) and MILC (v = data
    words). Partial results from the ranks combine by XOR."""
    idx = np.asarray(index, dtype=np.uint64).ravel()
    values = np.asarray(values).ravel()
    return xor_reduce(rotl32(values, idx % 29)), xor_reduce(rotl32(values, idx % 31))


def scidac_checksum(site_bytes, site_index):
    """Partial (suma, sumb) over the sites given: ``site_bytes`` is a 2-D uint8 array (one row of
    stored bytes per site), ``site_index`` their global lexicographic indices."""
    rows = np.ascontiguousarray(site_bytes).reshape(len(site_index), -1)
    crc = np.fromiter((zlib.crc32(r) for r in rows), dtype=np.uint64, count=rows.shape[0])
    return rotated_xor(crc, site_index)


def compare(path, what, claimed, found, verify):
    """Check a file's checksum words ``claimed`` against those of its data, ``found``: a mismatch is a
    FormatError, or a warning where ``verify`` is false."""
    if tuple(claimed) == tuple(found):
        return
    hexes = lambda words: " ".join(f"{int(w):08x}" for w in words)  # noqa: E731
    message = f"{what} mismatch: file says {hexes(claimed)}, data gives {hexes(found)}"
    if verify:
        raise FormatError(message, file=path)
    warn_unverified(path, message)


def xor_over_ranks(pair, lattice):
    """Collective: combine every rank's partial XOR checksum words."""
    return tuple(lattice.pg.xor(w) for w in pair)


def scidac_sums(site_bytes, lattice):
    """Collective: the SciDAC (suma, sumb) of a field from every rank's stored site records
    ``site_bytes`` (uint8 ``[t, z, y, x, bytes per site]``, the bytes as they are in the file)."""
    return xor_over_ranks(scidac_checksum(site_bytes.reshape(lattice.local_volume, -1),
                                          lattice.global_index().ravel()), lattice)
