"""Factorization precisions: the number formats a dense LU runs its O(n^3) work in.

Each format is a :class:`FactorizationPrecision` (a registered :class:`~hpcmix.precision.Precision`
with ``role = "factorization"``). Its ``round`` maps float32/float64 (real or complex) arrays to the
nearest values of the format, with round-to-nearest-even, gradual underflow and overflow to +-inf
as IEEE 754 prescribes, rounding once from the input (never through an intermediate format). The
result is stored in ``storage`` (float32 for every format narrower than fp64): a tensor core reads
such values, multiplies them exactly (two p-bit significands give at most 2p <= 24 bits) and adds
the products in fp32, which is what an fp32 GEMM on the rounded operands computes.

Formats (significand bits p including the hidden bit, largest finite value):
  fp64 (53, 1.8e308), fp32 (24, 3.4e38), tf32 (11, 3.4e38: fp32's range with fp16's precision),
  bf16 (8, 3.39e38), fp16 (11, 65504); ``fp16-scaled`` is fp16 applied to the two-sided
  equilibrated and range-scaled matrix (see :mod:`hpcmix.dense.squeeze`).
"""

import numpy as np

from ..errors import HpcmixError
from ..precision.base import Precision


def _round_f32_bits(x, drop, xp=np):
    """Round float32 ``x`` to ``23 - drop`` fraction bits (RNE on the bit pattern; fp32's exponent range), with the
    functions of the array module ``xp`` (numpy, or cupy on a GPU)."""
    u = xp.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    half = np.uint32((1 << (drop - 1)) - 1)
    r = (u + half + ((u >> np.uint32(drop)) & np.uint32(1))) & np.uint32(~((1 << drop) - 1) & 0xFFFFFFFF)
    out = r.view(np.float32)
    return xp.where(xp.isnan(x), np.float32(np.nan), out)


def _round_f64_bits(x, frac_bits, min_exp, xp=np):
    """Round float64 ``x`` once to ``frac_bits`` fraction bits with exponents down to ``min_exp`` (below 2^min_exp the
    spacing is 2^(min_exp - frac_bits), gradual underflow), RNE, as float64 with no upper limit on the exponent;
    NaN stays NaN. Functions of the array module ``xp``."""
    drop = 52 - frac_bits
    u = xp.ascontiguousarray(x).view(np.uint64)
    half = np.uint64((1 << (drop - 1)) - 1)
    r = (u + half + ((u >> np.uint64(drop)) & np.uint64(1))) & np.uint64(~((1 << drop) - 1) & (2**64 - 1))
    normal = r.view(np.float64).reshape(x.shape)
    tiny = xp.abs(x) < 2.0**min_exp
    if bool(tiny.any()):
        q = 2.0 ** (frac_bits - min_exp)
        normal = xp.where(tiny, xp.rint(x * q) / q, normal)   # rint rounds half to even
    return xp.where(xp.isnan(x), np.nan, normal)


def _round_f64_to_f32_range(x, frac_bits, xp=np):
    """Round float64 ``x`` once to ``frac_bits`` fraction bits within fp32's exponent range
    (subnormal spacing 2^(-126 - frac_bits)); values beyond the largest finite number become inf."""
    normal = _round_f64_bits(x, frac_bits, -126, xp)
    with np.errstate(over="ignore"):
        return normal.astype(np.float32)                        # exact, or inf beyond the range


def _to_fp16(x, xp=np):
    """fp16 rounding: numpy's cast rounds once, to nearest even, from float32 and float64 alike; another module
    (cupy) casts float32 the same way, and float64 is rounded on its bit pattern (fp16's 10 fraction bits, gradual
    underflow below 2^-14, inf beyond 65504), since a float64 -> float16 cast might go through float32 and round twice."""
    if xp is np:
        with np.errstate(over="ignore"):
            return np.asarray(x).astype(np.float16).astype(np.float32)   # numpy rounds once, RNE
    if x.dtype != np.float64:
        with np.errstate(over="ignore"):
            return x.astype(np.float16).astype(np.float32)
    r = _round_f64_bits(x, 10, -14, xp)
    return xp.where(xp.abs(r) > 65504.0, xp.copysign(np.inf, x), r).astype(np.float32)


def _to_fp32(x, xp=np):
    with np.errstate(over="ignore"):
        return np.asarray(x, dtype=np.float32) if xp is np else x.astype(np.float32)


def _to_fp64(x, xp=np):
    return np.asarray(x, dtype=np.float64) if xp is np else x.astype(np.float64)


def fp32_range_rounder(frac_bits):
    """A ``round_real`` for a format with ``frac_bits`` fraction bits and fp32's exponent range
    (tf32: 10, bf16: 7), rounding float32 or float64 input once, to nearest even, with the functions of the array
    module ``xp`` (numpy by default; it also serves as the format's ``round_any``)."""
    def rnd(x, xp=np):
        if xp is np:
            x = np.asarray(x)
        if x.dtype == np.float32:
            return _round_f32_bits(x, 23 - frac_bits, xp)
        if xp is np:
            x = np.asarray(x, dtype=np.float64)
        return _round_f64_to_f32_range(x, frac_bits, xp)
    return rnd


class FactorizationPrecision(Precision):
    """A number format for the O(n^3) part of a dense LU.

    ``round_real(x)`` rounds a real float32/float64 array into the format, returning ``storage``.
    ``native``: LAPACK's ?getrf in ``storage`` is this format's LU (fp32, fp64); otherwise the blocked
    LU of :mod:`hpcmix.dense.lu` rounds the GEMM operands with ``round``. ``squeeze``: equilibrate and
    scale the matrix into range first, and each trailing update's U12 operand too. ``cuda_gemm``:
    the cuBLAS GEMM input type on the GPU ("16F", "16BF", "TF32"), or None to run the GEMM in fp32
    on operands rounded with ``round``. ``round_any(x, xp)``: ``round_real`` written with the functions of any array
    module ``xp`` (numpy, or cupy on a GPU), bit for bit the same numbers, so that a kernel set rounds where its arrays
    live (:meth:`round_in`); None (the default, e.g. a plugin's format) for a format that rounds on the host only.
    """

    role = "factorization"

    def __init__(self, name, *, description, significand_bits, max_value, round_real, storage=np.float32,
                 bytes_per_real=4, native=False, squeeze=False, cuda_gemm=None, round_any=None):
        self.name = name
        self.description = description
        self.significand_bits = significand_bits
        self.unit_roundoff = 2.0 ** -significand_bits
        self.max_value = float(max_value)
        self.storage = np.dtype(storage)
        self.real_dtype = self.storage
        self.bytes_per_real = bytes_per_real
        self.native = native
        self.squeeze = squeeze
        self.cuda_gemm = cuda_gemm
        self.round_real = round_real
        self.round_any = round_any

    def storage_for(self, dtype):
        """The storage dtype for a matrix of ``dtype`` (complex64/complex128 for complex input)."""
        return np.result_type(self.storage, np.complex64) if np.issubdtype(dtype, np.complexfloating) \
            else self.storage

    def round(self, x):
        """``x`` rounded to this format (real and imaginary parts separately), as ``storage_for(x.dtype)``."""
        x = np.asarray(x)
        if np.iscomplexobj(x):
            out = np.empty(x.shape, self.storage_for(x.dtype))
            out.real = self.round_real(x.real)
            out.imag = self.round_real(x.imag)
            return out
        return self.round_real(x)

    def round_in(self, x, xp):
        """``x`` (an array of the module ``xp``) rounded to this format there, as :meth:`round` does on the host
        (the same numbers), with ``round_any``; None for a format without one (its caller then rounds on the host)."""
        if self.round_any is None:
            return None
        if x.dtype.kind == "c":
            out = xp.empty(x.shape, self.storage_for(x.dtype))
            out.real[...] = self.round_any(x.real, xp)
            out.imag[...] = self.round_any(x.imag, xp)
            return out
        return self.round_any(x, xp)

    def overflows(self, value):
        """True if the real magnitude ``value`` rounds to infinity in this format."""
        return not np.isfinite(self.round_real(np.array([value], dtype=np.float64)))[0]


_TF32, _BF16 = fp32_range_rounder(10), fp32_range_rounder(7)

FP64 = FactorizationPrecision(
    "fp64", description="IEEE double (LAPACK dgetrf); the fallback", significand_bits=53,
    max_value=np.finfo(np.float64).max, round_real=_to_fp64, storage=np.float64, bytes_per_real=8, native=True,
    round_any=_to_fp64)
FP32 = FactorizationPrecision(
    "fp32", description="IEEE single (LAPACK sgetrf directly on the CPU)", significand_bits=24,
    max_value=np.finfo(np.float32).max, round_real=_to_fp32, native=True, round_any=_to_fp32)
TF32 = FactorizationPrecision(
    "tf32", description="TensorFloat-32: GEMM inputs with 10 fraction bits, fp32 range, fp32 accumulation",
    significand_bits=11, max_value=(2 - 2.0**-10) * 2.0**127, round_real=_TF32, cuda_gemm="TF32",
    round_any=_TF32)
BF16 = FactorizationPrecision(
    "bf16", description="bfloat16: GEMM inputs with 7 fraction bits, fp32 range, fp32 accumulation",
    significand_bits=8, max_value=(2 - 2.0**-7) * 2.0**127, round_real=_BF16, bytes_per_real=2,
    cuda_gemm="16BF", round_any=_BF16)
FP16 = FactorizationPrecision(
    "fp16", description="IEEE half: GEMM inputs in fp16 (max 65504), fp32 accumulation", significand_bits=11,
    max_value=65504.0, round_real=_to_fp16, bytes_per_real=2, cuda_gemm="16F", round_any=_to_fp16)
FP16_SCALED = FactorizationPrecision(
    "fp16-scaled", description="fp16 after two-sided equilibration and scaling into fp16's range "
    "(Higham, Pranesh and Zounon 2019)", significand_bits=11, max_value=65504.0, round_real=_to_fp16,
    bytes_per_real=2, squeeze=True, cuda_gemm="16F", round_any=_to_fp16)

#: The built-in factorization precisions, registered by :mod:`hpcmix.dense.plugin`.
BUILTIN = (FP64, FP32, TF32, BF16, FP16, FP16_SCALED)


def lookup(precision, registry=None):
    """A factorization precision from a name or an object: the built-ins, else the registry's
    ``precisions`` (where plugins add formats). Raises HpcmixError for an unknown name."""
    if isinstance(precision, FactorizationPrecision):
        return precision
    for p in BUILTIN:
        if p.name == precision:
            return p
    if registry is None:
        from ..registry import get_registry
        registry = get_registry()
    known = names(registry)
    if precision not in known:
        raise HpcmixError(f"unknown factorization precision {precision!r}; registered: {', '.join(known)}")
    return registry.lookup("precisions", precision)


def names(registry=None):
    """Names of the factorization precisions (built-ins, plus the registry's where given)."""
    found = [p.name for p in BUILTIN]
    if registry is not None:
        found += [e.name for e in registry.entries("precisions")
                  if getattr(e.obj, "role", None) == "factorization" and e.name not in found]
    return found
