"""QUDA's fixed-point storage: ``half`` (int16, M = 32767) and ``quarter`` (int8, M = 127).

Fields. Per site, s = max |re|, |im| over the site's components; each real number v is stored as the
integer q = round(v * M / s) (round half to even; |q| <= M) and the site keeps the float32 norm
n = fl32(s / M); decoding computes fl32(q * n). Arithmetic runs in float32. Round trip, per real
number, with u = 1 / (2 M) (the unit roundoff, relative to the site norm):

    |decode(encode(v)) - v| <= s (u + 2^-23 + 2^-50)

(1/2 step of rounding q, 2^-24 s each from the float32 norm and the float32 product, 2^-50 s from
computing v * M / s in float64). Sites of zeros store n = 0. Norms are assumed inside float32's
normal range (s / M >= 2^-126); non-finite fields are refused.

Links (and the parameters of compressed links) lie in [-1, 1] and are stored without a norm as
q = round(p * M), decoded as fl32(q / M): |decode - p| <= u + 2^-24 + 2^-53.
"""

import numpy as np

from ..errors import HpcmixError
from .base import FieldPrecision, per_site, site_max


class FixedPoint(FieldPrecision):
    """Fixed-point storage in the signed integer type ``dtype`` with ``M = iinfo(dtype).max``."""

    real_dtype = np.dtype(np.float32)
    norm_dtype = np.dtype(np.float32)

    def __init__(self, name, dtype, description):
        self.name, self.description = name, description
        self.storage_dtype = np.dtype(dtype)
        self.bytes_per_real = self.storage_dtype.itemsize
        self.scale = int(np.iinfo(dtype).max)
        self.unit_roundoff = 1.0 / (2 * self.scale)

    def encode_reals(self, r, site_ndim):
        s = site_max(r, site_ndim)
        if not np.isfinite(s).all():
            raise HpcmixError(f"cannot store a field with non-finite values in precision '{self.name}'")
        norm = (s / self.scale).astype(self.norm_dtype)
        factor = np.divide(self.scale, s, out=np.zeros_like(s), where=s > 0)
        return np.rint(r * per_site(factor, r.ndim)).astype(self.storage_dtype), norm

    def decode_reals(self, data, norm, site_ndim):
        out = data.astype(self.real_dtype)
        out *= per_site(norm, data.ndim)
        return out

    def encode_params(self, p):
        largest = float(np.abs(p).max(initial=0.0))
        if not largest <= 1 + self.unit_roundoff:
            raise HpcmixError(
                f"precision '{self.name}' stores links as round(u * {self.scale}) and needs entries in [-1, 1], "
                f"got {largest:.6g}; store non-unitary (fat) links as a field with per-link norms, "
                f"encode(U, site_ndim=U.ndim - 2), or in a floating-point precision")
        return np.clip(np.rint(p * self.scale), -self.scale, self.scale).astype(self.storage_dtype)

    def decode_params(self, data):
        return data.astype(self.real_dtype) / self.real_dtype.type(self.scale)


HALF = FixedPoint("half", np.int16, "QUDA 16-bit fixed point: int16 components, float32 norm per site")
QUARTER = FixedPoint("quarter", np.int8, "QUDA 8-bit fixed point: int8 components, float32 norm per site")
