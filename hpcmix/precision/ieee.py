"""IEEE floating-point storage: ``double`` (float64) and ``single`` (float32).

A field is stored as its components rounded to the format (round to nearest even), without a norm;
arithmetic runs in the same format. Round trip: |decode(encode(v)) - v| <= u |v| per real number,
u = 2^-53 (double: exact) or 2^-24 (single), for |v| in the format's normal range.
"""

import numpy as np

from .base import FieldPrecision


class IEEEPrecision(FieldPrecision):
    """Storage in the IEEE format ``dtype``, which is also the compute format."""

    def __init__(self, name, dtype, description):
        self.name, self.description = name, description
        self.storage_dtype = self.real_dtype = np.dtype(dtype)
        self.bytes_per_real = self.storage_dtype.itemsize
        self.unit_roundoff = float(np.finfo(dtype).eps) / 2

    def encode_reals(self, r, site_ndim):
        return r.astype(self.storage_dtype), None

    def decode_reals(self, data, norm, site_ndim):
        return data.astype(self.real_dtype)

    def encode_params(self, p):
        return p.astype(self.storage_dtype)

    def decode_params(self, data):
        return data.astype(self.real_dtype)

    def round(self, x, site_ndim=4):
        """decode(encode(x)), which for an IEEE format is a cast to its compute dtype (a new array)."""
        return np.array(x, dtype=self.compute_dtype)


DOUBLE = IEEEPrecision("double", np.float64, "IEEE binary64 storage and arithmetic")
SINGLE = IEEEPrecision("single", np.float32, "IEEE binary32 storage and arithmetic")
