"""Order-independent checksums that each rank computes on its own sites and XOR-reduces.

SciDAC convention (also used by hpcmix's HDF5 format): for the site with global lexicographic index
s and stored bytes b_s, c_s = crc32(b_s); suma = XOR_s rotl32(c_s, s mod 29), sumb = XOR_s
rotl32(c_s, s mod 31).
"""

import zlib

import numpy as np


def rotl32(values, shifts):
    """Rotate 32-bit unsigned integers left (vectorized)."""
    values = np.asarray(values, dtype=np.uint64) & 0xFFFFFFFF
    shifts = np.asarray(shifts, dtype=np.uint64)
    return (((values << shifts) | (values >> ((32 - shifts) % 32))) & 0xFFFFFFFF).astype(np.uint32)


def xor_reduce(values):
    values = np.asarray(values, dtype=np.uint32).ravel()
    return int(np.bitwise_xor.reduce(values)) if values.size else 0


def scidac_checksum(site_bytes, site_index):
    """Partial (suma, sumb) over the sites given: ``site_bytes`` is a 2-D uint8 array (one row of
    stored bytes per site), ``site_index`` their global lexicographic indices."""
    rows = np.ascontiguousarray(site_bytes).reshape(len(site_index), -1)
    crc = np.fromiter((zlib.crc32(r) for r in rows), dtype=np.uint64, count=rows.shape[0])
    idx = np.asarray(site_index, dtype=np.uint64).ravel()
    return xor_reduce(rotl32(crc, idx % 29)), xor_reduce(rotl32(crc, idx % 31))
