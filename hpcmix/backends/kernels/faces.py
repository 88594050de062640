"""Numba sources of the Wilson halo faces, spin-projected (the reference: ``wilson_face_pack`` and
``wilson_face_unpack`` in :mod:`hpcmix.backends.reference`).

pack: for the sites of the given rows, the half spinor h = psi_up + S psi_down (S = s B_mu, a 2x2 matrix
of 0, +-1, +-i passed as ``sr``, ``si``; the sum over its two entries adds an exact zero, so h is the
reference's to the bit), stored as the field stores: fixed point with the reference's float64 encoding
(norm = fl32(s / M), q = rint(h M / s), s the site's largest |h|), IEEE as is. unpack: the spinor
[h; S^dag h] halved (IEEE) or with the integers of h and half the norm (fixed point), exactly, into
the ghost rows from ``start``.
"""

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


def pack_source(in_fixed, out_fixed):
    """``kernel(psi, psin, rows, out, outn, scale, sr, si)``: out[i] = h of psi's row rows[i]."""
    load = (lambda k: f"CDT(psi[row, {k}, l]) * psin[row, l]") if in_fixed else (lambda k: f"psi[row, {k}, l]")
    body = _half_spinor(load)
    if out_fixed:
        body += ["s = 0.0"] + [f"s = max(s, abs(np.float64(h{k})))" for k in range(12)]
        body += ["outn[i, l] = np.float32(s / scale)", "f = scale / s if s > 0 else 0.0"]
        body += [f"out[i, {k}, l] = np.rint(np.float64(h{k}) * f)" for k in range(12)]
    else:
        body += [f"out[i, {k}, l] = h{k}" for k in range(12)]
    L = HEADER + ["def kernel(psi, psin, rows, out, outn, scale, sr, si):",
                  "    CDT = sr.dtype.type",
                  "    for i in prange(rows.shape[0]):",
                  "        row = rows[i]",
                  "        for l in range(psi.shape[2]):"] + ["            " + b for b in body]
    return "\n".join(L) + "\n"


def unpack_source(fixed):
    """``kernel(data, datan, start, q, qn, tr, ti, half)``: ghost row start + i of the field (data, datan) =
    [h; T h] from h = q[i] (T = S^dag, entries 0, +-1, +-i; ``half`` = 0.5 for IEEE, 1 for fixed point,
    whose norm is halved instead)."""
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
    if fixed:
        body += ["datan[start + i, l] = qn[i, l] * np.float32(0.5)"]
    L = HEADER + ["def kernel(data, datan, start, q, qn, tr, ti, half):",
                  "    for i in prange(q.shape[0]):",
                  "        for l in range(q.shape[2]):"] + ["            " + b for b in body]
    return "\n".join(L) + "\n"
