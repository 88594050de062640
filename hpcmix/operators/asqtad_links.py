"""Asqtad fat and long (Naik) links from phased thin links, as MILC builds them.

Input: the operator's own copy of the thin links V_mu(x) = eta_mu(x) b_mu(x) U_mu(x), staggered and
boundary phases already multiplied in (see :mod:`hpcmix.operators.staggered`). Output, for every
direction mu:

    W_mu(x) = c_1 V_mu(x)
            + c_3   sum_{nu}                 S_nu[V_mu](x)                      (3-staple,  6 paths)
            + c_5   sum_{nu, rho}            S_rho[S_nu[V_mu]](x)               (5-staple, 24 paths)
            + c_7   sum_{nu, rho, sigma}     S_sigma[S_rho[S_nu[V_mu]]](x)      (7-staple, 48 paths)
            + c_L   sum_{nu}  (P_nu[P_nu[V_mu]] + P_{-nu}[P_{-nu}[V_mu]])(x)    (Lepage,    6 paths)
    L_mu(x) = c_N V_mu(x) V_mu(x+mu) V_mu(x+2mu)                                (Naik)

with nu, rho, sigma distinct and perpendicular to mu, and for a "link" A from x to x+mu the staples
    P_nu[A](x)    = V_nu(x) A(x+nu) V_nu(x+mu)^dag                 (displaced by +nu)
    P_{-nu}[A](x) = V_nu(x-nu)^dag A(x-nu) V_nu(x-nu+mu)           (displaced by -nu)
    S_nu = P_nu + P_{-nu}.
So every path shape is summed over all perpendicular directions and both orientations, each distinct
path once. This is MILC's path table (asqtad_action.h) in MILC's order (one-link, Naik, 3-staple,
5-staple, 7-staple, Lepage): MILC's fast fat-link builder forms the Lepage term as S_nu[S_nu[V]] and
takes 6 c_L off the one-link coefficient for the two back-tracking paths per nu; the genuine paths
above need no such correction, so c_1 is MILC's act_path_coeff[0] as it stands.

Coefficients (MILC's "MILC sign convention": the staple signs hold for phased links; a plaquette of
phased links carries the sign -1, so the free-field fat link is 5/8 + 3/8 + 3/8 + 1/8 - 3/8 = 9/8 and
with the Naik term 9/8 - 3/24 = 1):
    c_1 = 5/8,   c_N = -1/(24 u0^2),  c_3 = -1/(16 u0^2),  c_5 = 1/(64 u0^4),
    c_7 = -1/(384 u0^6),  c_L = -1/(16 u0^4);
at u0 = 0.502: 0.625, -0.1653413, -0.2480119, 0.2460397, -0.1627221, -0.9841587.
"""

from ..fields.su3 import dagger

#: Names of the path coefficients, in MILC's order.
PATHS = ("one_link", "naik", "three_staple", "five_staple", "seven_staple", "lepage")


def asqtad_coefficients(u0):
    """The tadpole-improved asqtad path coefficients in MILC's order (see module doc)."""
    u2 = u0 * u0
    return (5.0 / 8.0, -1.0 / (24.0 * u2), -1.0 / (16.0 * u2), 1.0 / (64.0 * u2 * u2),
            -1.0 / (384.0 * u2 ** 3), -1.0 / (16.0 * u2 * u2))


class _Staples:
    """P_{+nu}, P_{-nu} and S_nu of link fields in one direction mu (see module doc)."""

    def __init__(self, lattice, links, mu):
        self.lattice, self.links = lattice, links
        # V_nu(x + mu) for every nu != mu, used by both orientations
        self.v_mu = {nu: lattice.shift(links[nu], mu, 1) for nu in range(4) if nu != mu}

    def up(self, a, nu):
        return self.links[nu] @ self.lattice.shift(a, nu, 1) @ dagger(self.v_mu[nu])

    def down(self, a, nu):
        return self.lattice.shift(dagger(self.links[nu]) @ a @ self.v_mu[nu], nu, -1)

    def both(self, a, nu):
        return self.up(a, nu) + self.down(a, nu)


def fat_link(lattice, links, mu, coefficients):
    """W_mu(x) of the module doc from the phased thin links ``links[nu][t, z, y, x, 3, 3]``."""
    c1, _, c3, c5, c7, cl = coefficients
    st = _Staples(lattice, links, mu)
    v = links[mu]
    perp = [nu for nu in range(4) if nu != mu]
    fat = c1 * v
    for nu in perp:
        s3 = st.both(v, nu)
        fat += c3 * s3
        fat += cl * (st.up(st.up(v, nu), nu) + st.down(st.down(v, nu), nu))
        for rho in perp:
            if rho == nu:
                continue
            s5 = st.both(s3, rho)
            fat += c5 * s5
            for sigma in perp:
                if sigma not in (nu, rho):
                    fat += c7 * st.both(s5, sigma)
    return fat


def long_link(lattice, links, mu, coefficients):
    """L_mu(x) = c_N V_mu(x) V_mu(x+mu) V_mu(x+2mu)."""
    v1 = lattice.shift(links[mu], mu, 1)
    v2 = lattice.shift(v1, mu, 1)
    return coefficients[1] * (links[mu] @ v1 @ v2)


def asqtad_links(lattice, links, coefficients):
    """([W_mu], [L_mu]) for mu = 0..3 (complex128 arrays ``[t, z, y, x, 3, 3]``)."""
    coefficients = tuple(float(c) for c in coefficients)
    if len(coefficients) != len(PATHS):
        raise ValueError(f"asqtad needs {len(PATHS)} path coefficients ({', '.join(PATHS)}), "
                         f"got {len(coefficients)}")
    return ([fat_link(lattice, links, mu, coefficients) for mu in range(4)],
            [long_link(lattice, links, mu, coefficients) for mu in range(4)])
