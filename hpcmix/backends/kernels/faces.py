"""Numba sources of the Wilson halo faces, spin-projected (the reference: ``wilson_face_pack`` and
``wilson_face_unpack`` in :mod:`hpcmix.backends.reference`); their per-site statements (:func:`pack`,
:func:`unpack`) are shared with the CUDA kernels (:mod:`hpcmix.backends.cuda`).

pack: for the sites of the given rows, the half spinor h = psi_up + S psi_down (S = s B_mu, a 2x2 matrix
of 0, +-1, +-i passed as ``sr``, ``si``; the sum over its two entries adds an exact zero, so h is the
reference's to the bit), stored as the field stores: fixed point with the reference's float64 encoding
(norm = fl32(s / M), q = rint(h M / s), s the site's largest |h|), IEEE as is. unpack: the spinor
[h; S^dag h] halved (IEEE) or with the integers of h and half the norm (fixed point), exactly, into
the ghost rows from ``start``.
"""

from . import site
from .blas import HEADER


def _half_spinor(load):
    """Statements h{sp}{c}r/i = psi_up + S psi_down, psi read by ``load(k)`` (k = 2 (3 spin + c) + re/im)."""
    lines = []
    for sp in range(2):
        for c in range(3):
            ur, ui = load(2 * (3 * sp + c)), load(2 * (3 * sp + c) + 1)
            terms_r = " + ".join(f"(sr[{sp}, {t}] * {load(2 * (3 * (2 + t) + c))} - si[{sp}, {t}] * "
                                 f"{load(2 * (3 * (2 + t) + c) + 1)})" for t in range(2))
            terms_i = " + ".join(f"(sr[{sp}, {t}] * {load(2 * (3 * (2 + t) + c) + 1)} + si[{sp}, {t}] * "
                                 f"{load(2 * (3 * (2 + t) + c))})" for t in range(2))
            lines += [f"h{2 * (3 * sp + c)} = {ur} + ({terms_r})", f"h{2 * (3 * sp + c) + 1} = {ui} + ({terms_i})"]
    return lines


def pack(in_fixed, out_fixed, rint="np.rint"):
    """Statements of one site (i, row, l): out[i, :, l] = h of psi's site (row, l), in the compute type
    ``CDT``; a fixed-point output encoded in float64 (``zero`` = 0.0; ``rint``: the target's
    round-half-even), an IEEE one stored as is."""
    body = _half_spinor(lambda k: site.spinor(in_fixed, "row", k, "l"))
    if out_fixed:
        return body + site.encode(12, lambda k, q: f"out[i, {k}, l] = {q}", lambda n: f"outn[i, l] = np.float32({n})",
                                  rint, value=lambda k: f"np.float64(h{k})")
    return body + [f"out[i, {k}, l] = h{k}" for k in range(12)]


def unpack(fixed):
    """Statements of one site (i, l): ghost row start + i of the field (data, datan) = [h; T h] from
    h = q[i, :, l] (T = S^dag, entries 0, +-1, +-i as ``tr``, ``ti``; ``half`` = 0.5 for IEEE, 1 for fixed
    point, whose norm is halved instead)."""
    body = [f"h{k} = q[i, {k}, l] * half" for k in range(12)]
    body += [f"data[start + i, {k}, l] = h{k}" for k in range(12)]
    for sl in range(2):
        for c in range(3):
            re = " + ".join(f"(tr[{sl}, {t}] * h{2 * (3 * t + c)} - ti[{sl}, {t}] * h{2 * (3 * t + c) + 1})"
                            for t in range(2))
            im = " + ".join(f"(tr[{sl}, {t}] * h{2 * (3 * t + c) + 1} + ti[{sl}, {t}] * h{2 * (3 * t + c)})"
                            for t in range(2))
            body += [f"data[start + i, {2 * (3 * (2 + sl) + c)}, l] = {re}",
                     f"data[start + i, {2 * (3 * (2 + sl) + c) + 1}, l] = {im}"]
    return body + (["datan[start + i, l] = qn[i, l] * np.float32(0.5)"] if fixed else [])


def pack_source(in_fixed, out_fixed):
    """``kernel(psi, psin, rows, out, outn, out_scale, sr, si)``: out[i] = h of psi's row rows[i] (:func:`pack`)."""
    L = HEADER + ["def kernel(psi, psin, rows, out, outn, out_scale, sr, si):",
                  "    CDT = sr.dtype.type",
                  "    zero = 0.0",
                  "    for i in prange(rows.shape[0]):",
                  "        row = rows[i]",
                  "        for l in range(psi.shape[2]):"] + ["            " + b for b in pack(in_fixed, out_fixed)]
    return "\n".join(L) + "\n"


def unpack_source(fixed):
    """``kernel(data, datan, start, q, qn, tr, ti, half)``: ghost rows start + i of the field (data, datan)
    from the half spinors q[i] (:func:`unpack`)."""
    L = HEADER + ["def kernel(data, datan, start, q, qn, tr, ti, half):",
                  "    for i in prange(q.shape[0]):",
                  "        for l in range(q.shape[2]):"] + ["            " + b for b in unpack(fixed)]
    return "\n".join(L) + "\n"
