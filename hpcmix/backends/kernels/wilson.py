"""The Wilson hopping term at one site, as generated statements on real scalars.

D_w psi(x) = sum_mu [ (1 - g_mu) U_mu(x) psi(x + mu) + (1 + g_mu) U_mu(x - mu)^dag psi(x - mu) ]
in the DeGrand-Rossi basis (:mod:`hpcmix.operators.gamma`), where every g_mu = [[0, B], [B^dag, 0]]
is off-diagonal in chirality, so with s = -1 (forward) or +1 (backward)

    (1 + s g_mu) psi = [ h ; s B^dag h ],   h = psi_up + s B psi_down      (B^dag B = 1):

each direction projects to a half spinor h (2 spins x 3 colours), multiplies it by the link (or its
adjoint), and rebuilds the lower spins, 1320 flops per site in all (the standard count; the
projection's multiplications by 0, +-1, +-i are free). Spinor components are numbered
k = 2 (3 spin + colour) + (0 re, 1 im).

The generated statements read the neighbour spinor of direction d as ``p{d}_{k}``, the link
parameters through ``link(d, k)``, the real boundary phase of direction d as ``ph{d}``, and leave the
result in ``o0 .. o23``.
"""

from . import links

#: the upper-right 2x2 block B_mu of g_mu, entries (re, im)
B = {0: (((0, 0), (0, 1)), ((0, 1), (0, 0))),
     1: (((0, 0), (-1, 0)), ((1, 0), (0, 0))),
     2: (((0, 1), (0, 0)), ((0, 0), (0, -1))),
     3: (((1, 0), (0, 0)), ((0, 0), (1, 0)))}

#: directions d = 0..7: x+, x-, y+, y-, z+, z-, t+, t-
DIRECTIONS = tuple((d // 2, d % 2 == 0) for d in range(8))


def _times(c, re, im):
    """Terms of c * (re + i im) for c in {0, +-1, +-i}: (real terms, imaginary terms)."""
    cr, ci = c
    r, i = [], []
    if cr:
        r.append(("+" if cr > 0 else "-") + re)
        i.append(("+" if cr > 0 else "-") + im)
    if ci:
        r.append(("-" if ci > 0 else "+") + im)
        i.append(("+" if ci > 0 else "-") + re)
    return r, i


def _k(spin, colour, part):
    return 2 * (3 * spin + colour) + part


def direction(d, reconstruct, link, phase=True):
    """Statements adding direction d's term to ``o0 .. o23``."""
    mu, forward = DIRECTIONS[d]
    s = -1 if forward else 1
    out = links.decode(reconstruct, lambda k: link(d, k), prefix="u")
    p = lambda k: f"p{d}_{k}"  # noqa: E731
    for sp in range(2):                       # h = psi_up + s B psi_down
        for c in range(3):
            re, im = [p(_k(sp, c, 0))], [p(_k(sp, c, 1))]
            for t in range(2):
                br, bi = B[mu][sp][t]
                r, i = _times((s * br, s * bi), p(_k(2 + t, c, 0)), p(_k(2 + t, c, 1)))
                re += r
                im += i
            out.append(f"h{sp}{c}r = " + " ".join(re))
            out.append(f"h{sp}{c}i = " + " ".join(im))
    for sp in range(2):                       # w = U h (forward) or U^dag h (backward), times the phase
        for a in range(3):
            re, im = [], []
            for b in range(3):
                if forward:
                    ur, ui = f"u{a}{b}r", f"u{a}{b}i"
                    re.append(f"{ur}*h{sp}{b}r - {ui}*h{sp}{b}i")
                    im.append(f"{ur}*h{sp}{b}i + {ui}*h{sp}{b}r")
                else:
                    ur, ui = f"u{b}{a}r", f"u{b}{a}i"
                    re.append(f"{ur}*h{sp}{b}r + {ui}*h{sp}{b}i")
                    im.append(f"{ur}*h{sp}{b}i - {ui}*h{sp}{b}r")
            f = f"ph{d} * " if phase else ""
            out.append(f"w{sp}{a}r = {f}(" + " + ".join(re) + ")")
            out.append(f"w{sp}{a}i = {f}(" + " + ".join(im) + ")")
    for sp in range(2):                       # upper spins += w
        for c in range(3):
            out.append(f"o{_k(sp, c, 0)} += w{sp}{c}r")
            out.append(f"o{_k(sp, c, 1)} += w{sp}{c}i")
    for sl in range(2):                       # lower spins += s B^dag w, (B^dag)[sl][t] = conj(B[t][sl])
        for c in range(3):
            re, im = [], []
            for t in range(2):
                br, bi = B[mu][t][sl]
                r, i = _times((s * br, -s * bi), f"w{t}{c}r", f"w{t}{c}i")
                re += r
                im += i
            out.append(f"o{_k(2 + sl, c, 0)} += " + " ".join(re))
            out.append(f"o{_k(2 + sl, c, 1)} += " + " ".join(im))
    return out


def hop(reconstruct, link, phase=True):
    """Statements computing D_w psi at one site into ``o0 .. o23`` (all 8 directions)."""
    out = [f"o{k} = 0.0" for k in range(24)]
    for d in range(8):
        out += direction(d, reconstruct, link, phase)
    return out
