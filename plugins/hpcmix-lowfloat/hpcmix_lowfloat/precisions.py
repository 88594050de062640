"""IEEE ``float16`` and ``bfloat16`` storage for lattice fields (arithmetic in float32).

Both round once, to nearest even, from the float64 numbers given to ``encode`` (never through
float32, which would round twice; see :mod:`hpcmix_lowfloat.rounding`).

* ``float16`` (binary16: 5 exponent bits, 10 fraction bits, u = 2^-11) has too little range for
  solver vectors (largest 65504, smallest normal 2^-14), so a field keeps one float32 norm per site,
  the power of two 2^k with s <= 2^k < 2 s (s = max |re|, |im| over the site; 2^k = 1 for s = 0).
  Dividing by 2^k is exact, so each component is the correctly rounded binary16 of v / 2^k and
  |decode(encode(v)) - v| <= 2^-11 |v| + 2^-24 s (the second term for subnormal binary16).
* ``bfloat16`` (8 exponent bits, 7 fraction bits, u = 2^-8) has float32's range and no norm; it is
  stored as uint16 bit patterns: |decode(encode(v)) - v| <= 2^-8 |v| for |v| in [2^-126, 2^128).

Links and their reconstruct parameters (in [-1, 1]) are stored without a norm in both.
"""

import numpy as np

from hpcmix.errors import HpcmixError
from hpcmix.precision.base import FieldPrecision, per_site, site_max

from .rounding import BF16, bfloat16_to_float32, round_bits


class Float16(FieldPrecision):
    name = "float16"
    description = "IEEE binary16 components with a power-of-two float32 norm per site (plugin hpcmix-lowfloat)"
    bytes_per_real = 2
    unit_roundoff = 2.0 ** -11
    real_dtype = np.dtype(np.float32)
    storage_dtype = np.dtype(np.float16)
    norm_dtype = np.dtype(np.float32)

    def encode_reals(self, r, site_ndim):
        s = site_max(r, site_ndim)
        if not np.isfinite(s).all():
            raise HpcmixError(f"cannot store a field with non-finite values in precision '{self.name}'")
        mantissa, exponent = np.frexp(s)
        scale = np.ldexp(1.0, np.where(mantissa == 0.5, exponent - 1, exponent))
        return self.encode_params(r / per_site(scale, r.ndim)), scale.astype(self.norm_dtype)

    def decode_reals(self, data, norm, site_ndim):
        out = data.astype(self.real_dtype)
        out *= per_site(norm, data.ndim)
        return out

    def encode_params(self, p):
        return p.astype(self.storage_dtype)  # numpy's float64 -> float16 cast is correctly rounded

    def decode_params(self, data):
        return data.astype(self.real_dtype)


class BFloat16(FieldPrecision):
    name = "bfloat16"
    description = "bfloat16 components stored as uint16 bit patterns, no norm (plugin hpcmix-lowfloat)"
    bytes_per_real = 2
    unit_roundoff = 2.0 ** -8
    real_dtype = np.dtype(np.float32)
    storage_dtype = np.dtype(np.uint16)

    def encode_reals(self, r, site_ndim):
        return self.encode_params(r), None

    def decode_reals(self, data, norm, site_ndim):
        return self.decode_params(data)

    def encode_params(self, p):
        return round_bits(p, BF16)

    def decode_params(self, data):
        return bfloat16_to_float32(data)


FLOAT16 = Float16()
BFLOAT16 = BFloat16()
