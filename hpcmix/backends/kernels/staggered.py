"""The staggered (naive and asqtad) hopping term at one site, as generated statements on real scalars.

MILC's convention (:mod:`hpcmix.operators.staggered`):

    D psi(x) = sum_mu [ W_mu(x) psi(x + mu) - W_mu(x - mu)^dag psi(x - mu)
                        + L_mu(x) psi(x + 3 mu) - L_mu(x - 3 mu)^dag psi(x - 3 mu) ],

in the directions d of :mod:`hpcmix.fields.layout` (d = 0..7 the one-link hops with W, 8..15 the Naik
hops with L): forward directions add U psi, backward ones subtract U^dag psi, U the link the kernel
reads for d (already shifted to the site). 66 flops per SU(3) matrix-vector product and 6 per
vector addition: 1146 per site for asqtad (16 products, 15 additions), 570 for naive staggered.
Components k = 2 colour + (0 re, 1 im). The statements read the neighbour vector of direction d as
``p{d}_{k}``, link parameters through ``link(d, k)``, the real phase as ``ph{d}`` (where ``phase``:
naive staggered with compressed links multiplies eta_mu b_mu in the kernel) and leave the result in
``o0 .. o5``.
"""

from . import links


def direction(d, reconstruct, link, phase):
    """Statements adding (forward d) or subtracting (backward d) direction d's term to ``o0 .. o5``."""
    forward = d % 2 == 0
    out = links.decode(reconstruct, lambda k: link(d, k), prefix="u")
    for a in range(3):
        re, im = [], []
        for b in range(3):
            pr, pi = f"p{d}_{2 * b}", f"p{d}_{2 * b + 1}"
            if forward:
                re.append(f"u{a}{b}r*{pr} - u{a}{b}i*{pi}")
                im.append(f"u{a}{b}r*{pi} + u{a}{b}i*{pr}")
            else:
                re.append(f"u{b}{a}r*{pr} + u{b}{a}i*{pi}")
                im.append(f"u{b}{a}r*{pi} - u{b}{a}i*{pr}")
        f = f"ph{d} * " if phase else ""
        op = "+=" if forward else "-="
        out.append(f"o{2 * a} {op} {f}(" + " + ".join(re) + ")")
        out.append(f"o{2 * a + 1} {op} {f}(" + " + ".join(im) + ")")
    return out


def hop(reconstruct, link, ndir, phase):
    """Statements computing D psi at one site into ``o0 .. o5`` (``ndir`` = 8 naive, 16 asqtad)."""
    out = [f"o{k} = 0.0" for k in range(6)]
    for d in range(ndir):
        out += direction(d, reconstruct, link, phase)
    return out
