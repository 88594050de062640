"""Correctly rounded conversion of float64 to 16-bit IEEE-style binary formats, from the float64 bits.

Rounding a float64 to float32 and then to bfloat16 rounds twice and is wrong where the first
rounding lands on a halfway point of the second: 1 + 2^-8 + 2^-30 is nearer to 1 + 2^-7 than to 1,
but float32 rounds it to the tie 1 + 2^-8, which bfloat16 then rounds to even, 1. :func:`round_bits`
rounds once, to nearest with ties to even, straight from the float64 bit pattern:

* sign s, unbiased exponent E and 53-bit significand M (hidden bit set) of x;
* a format with p fraction bits and exponent bias B keeps the bits of M above position
  d = 52 - p + max(emin - E, 0), emin = 1 - B (the extra shift makes subnormals);
* R = M >> d, plus 1 if the dropped bits exceed half of 2^d, or equal it and R is odd;
* bits = (max(E, emin) + B - 1) << p  +  R: the hidden bit in R adds the exponent's last unit, a
  carry out of the significand moves to the next binade, and subnormals (exponent field 0) come out
  as R itself, the largest rounding up to the smallest normal number;
* results at or past the all-ones exponent are infinities, NaN stays a (quiet) NaN.

numpy's float64 -> float16 cast rounds the same way (``round_bits(x, FP16)`` equals
``x.astype(float16)`` bit for bit, which the tests check); bfloat16 has no numpy type and uses this.
"""

from typing import NamedTuple

import numpy as np


class BinaryFormat(NamedTuple):
    """A 16-bit binary floating-point format: 1 sign, ``exponent_bits``, ``fraction_bits``."""

    exponent_bits: int
    fraction_bits: int

    @property
    def bias(self):
        return 2 ** (self.exponent_bits - 1) - 1


BF16 = BinaryFormat(8, 7)
FP16 = BinaryFormat(5, 10)

_FRACTION64 = np.uint64(2 ** 52 - 1)
_MAGNITUDE64 = np.uint64(2 ** 63 - 1)
_INF64 = np.uint64(0x7FF << 52)


def round_bits(x, fmt):
    """The bit patterns (uint16) of float64 values ``x`` rounded to nearest even in format ``fmt``."""
    assert 1 + fmt.exponent_bits + fmt.fraction_bits == 16
    x = np.ascontiguousarray(x, dtype=np.float64)
    b = x.view(np.uint64)
    magnitude = b & _MAGNITUDE64
    p, emin = fmt.fraction_bits, 1 - fmt.bias
    E = (magnitude >> np.uint64(52)).astype(np.int64) - 1023
    M = (magnitude & _FRACTION64) | np.uint64(2 ** 52)
    E_eff = np.maximum(E, emin)
    d = np.minimum(52 - p + (E_eff - E), 60).astype(np.uint64)  # past 55 everything rounds to 0
    R = M >> d
    rest = M & ((np.uint64(1) << d) - np.uint64(1))
    half = np.uint64(1) << (d - np.uint64(1))
    R = R + ((rest > half) | ((rest == half) & (R & np.uint64(1) == 1)))
    bits = ((E_eff + fmt.bias - 1) << p) + R.astype(np.int64)
    inf = (2 ** fmt.exponent_bits - 1) << p
    bits = np.where(bits >= inf, inf, bits)
    bits = np.where(magnitude > _INF64, inf | (1 << (p - 1)), bits)
    sign = (b >> np.uint64(63)).astype(np.int64) << 15
    return (bits | sign).astype(np.uint16)


def bfloat16_to_float32(bits):
    """bfloat16 bit patterns as float32 numbers (exact: bfloat16 is the top half of float32)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)
