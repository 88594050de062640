"""Gauge-link compression ("reconstruct"): an SU(3) link as 18, 12 or 8 real parameters in [-1, 1].

Every parameter lies in [-1, 1], so every precision (fixed point included) stores them without a
norm. :func:`pack` works in float64; :func:`unpack` computes in the real dtype of the parameters it is
given (float32 for single/half/quarter), as a kernel would after loading them.

* **18**: the nine entries row-major, (re, im) interleaved. Any 3x3 matrix.
* **12**: the first two rows a = U[0], b = U[1], as 18 does; the third row is rebuilt as
  conj(a x b), exact for SU(3) (unitarity and det U = 1).
* **8**: QUDA's 8-real parameterization (Clark et al., Comput. Phys. Commun. 181 (2010) 1517; QUDA's
  ``Reconstruct<8>`` in ``gauge_field_order.h``), applied to the twisted link V = U F, where F is the
  3x3 discrete Fourier matrix made special unitary, ``F[j, k] = exp(i pi (1 + 4 j k) / 6) / sqrt(3)``
  (det F = 1, all |F[j, k]| = 1/sqrt(3)); decoding returns U = V F^dag. Stored, in order:
  ``arg(V00)/pi, arg(V20)/pi, Re V01, Im V01, Re V02, Im V02, Re V10, Im V10``. Rebuilt, with
  N = |V01|^2 + |V02|^2:

      |V00| = sqrt(1 - N),   |V20| = sqrt(N - |V10|^2)            (clamped at 0)
      V11 = -(V20* V02* + V00* V10 V01) / N     V12 =  (V20* V01* - V00* V10 V02) / N
      V21 =  (V10* V02* - V00* V20 V01) / N     V22 = -(V10* V01* + V00* V20 V02) / N

  **Singularity.** The map loses the lower-right 2x2 block where N = 0, i.e. |V00| = 1, and rounding
  errors of size e in the stored numbers grow to about e / sqrt(N) near it; magnitudes rebuilt by a
  square root (|V00|, |V20|) lose up to half their digits where they are below sqrt(e). Untwisted
  (V = U, as in QUDA) the singular set holds the unit matrix and every diagonal link: cold starts,
  free fields and weak fields. Twisted, it is the links whose first row is a phase times
  (1, 1, 1)/sqrt(3), which physical gauge fields do not single out, and unit, diagonal and weak links
  sit where the map is best conditioned (|V_ij| near 1/sqrt(3), N near 2/3). Haar-random links are
  as well conditioned twisted as untwisted (P(N < t) = t^2). Where the stored N is below the
  precision's unit roundoff (error beyond about sqrt(u)), the precision refuses the links
  (:meth:`FieldPrecision.store_link_params`) and names reconstruct 12 or 18 instead.

12 and 8 need SU(3) links: boundary and staggered phases stay in the operators (DESIGN.md) and
smeared or fat links, which are not unitary, are stored with reconstruct 18.
"""

import numpy as np

from .stored import as_complex, as_reals

#: The supported reconstructs: real parameters per link.
RECONSTRUCTS = (18, 12, 8)

_J, _K = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
#: The twist of reconstruct 8: the SU(3) discrete Fourier matrix.
TWIST = np.exp(1j * np.pi * (1 + 4 * _J * _K) / 6) / np.sqrt(3)


def pack(U, reconstruct):
    """The float64 parameters ``[..., reconstruct]`` of links ``U[..., 3, 3]``."""
    U = np.asarray(U)
    if reconstruct == 18:
        return as_reals(U).reshape(U.shape[:-2] + (18,))
    if reconstruct == 12:
        return as_reals(U[..., :2, :]).reshape(U.shape[:-2] + (12,))
    V = U.astype(np.complex128) @ TWIST
    out = np.empty(U.shape[:-2] + (8,))
    out[..., 0] = np.angle(V[..., 0, 0]) / np.pi
    out[..., 1] = np.angle(V[..., 2, 0]) / np.pi
    out[..., 2:8] = as_reals(np.stack([V[..., 0, 1], V[..., 0, 2], V[..., 1, 0]], axis=-1)).reshape(U.shape[:-2] + (6,))
    return out


def unpack(p, reconstruct):
    """Links ``[..., 3, 3]`` from parameters ``p[..., reconstruct]``, computed in p's real dtype."""
    p = np.asarray(p)
    lead = p.shape[:-1]
    if reconstruct == 18:
        return as_complex(p.reshape(lead + (3, 3, 2)))
    if reconstruct == 12:
        ab = as_complex(p.reshape(lead + (2, 3, 2)))
        c = np.conj(np.cross(ab[..., 0, :], ab[..., 1, :]))
        return np.concatenate([ab, c[..., None, :]], axis=-2)
    return _unpack8(p) @ np.conj(TWIST.T).astype(np.result_type(p.dtype, np.complex64))


def _unpack8(p):
    """The twisted link V from the 8 parameters (module docstring)."""
    theta0, theta2 = np.pi * p[..., 0], np.pi * p[..., 1]
    a1, a2, c1 = (as_complex(p[..., i:i + 2]) for i in (2, 4, 6))
    n = np.abs(a1) ** 2 + np.abs(a2) ** 2
    c1sq = np.abs(c1) ** 2
    m0 = np.sqrt(np.maximum(1 - n, 0))
    m2 = np.sqrt(np.maximum(np.where(n <= 1, n - c1sq, 1 - c1sq), 0))
    v00 = m0 * np.exp(1j * theta0)
    v20 = m2 * np.exp(1j * theta2)
    inv = 1 / n
    V = np.empty(p.shape[:-1] + (3, 3), dtype=v00.dtype)
    V[..., 0, 0], V[..., 0, 1], V[..., 0, 2] = v00, a1, a2
    V[..., 1, 0], V[..., 2, 0] = c1, v20
    V[..., 1, 1] = -(np.conj(v20) * np.conj(a2) + np.conj(v00) * c1 * a1) * inv
    V[..., 1, 2] = (np.conj(v20) * np.conj(a1) - np.conj(v00) * c1 * a2) * inv
    V[..., 2, 1] = (np.conj(c1) * np.conj(a2) - np.conj(v00) * v20 * a1) * inv
    V[..., 2, 2] = -(np.conj(c1) * np.conj(a1) + np.conj(v00) * v20 * a2) * inv
    return V


def row_norm8(p):
    """N = |V01|^2 + |V02|^2 of every link from its 8 parameters (float64); reconstruct 8 is
    singular at N = 0."""
    p = np.asarray(p, dtype=np.float64)
    return (p[..., 2:6] ** 2).sum(axis=-1)


def su3_deviation(U):
    """max(|U U^dag - 1|, |det U - 1|) over all links (0 for an empty stack)."""
    U = np.asarray(U, dtype=np.complex128)
    if U.size == 0:
        return 0.0
    unitarity = np.abs(U @ np.conj(np.swapaxes(U, -1, -2)) - np.eye(3)).max()
    return float(max(unitarity, np.abs(np.linalg.det(U) - 1).max()))
