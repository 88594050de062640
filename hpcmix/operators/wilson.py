"""Wilson and Wilson-clover Dirac operators (numpy reference), with even-odd Schur preconditioning.

Convention (DESIGN.md): M = A - (1/2) D_w with
    D_w psi(x) = sum_mu [ (1 - g_mu) U_mu(x) psi(x+mu) + (1 + g_mu) U_mu(x-mu)^dag psi(x-mu) ],
A = (4 + m) for Wilson and A = (4 + m) + C for Wilson-clover, kappa = 1 / (2 m + 8).
Boundary phases b_mu multiply U_mu(x) on the last global slice x_mu = L_mu - 1, inside the
operator's own copy of the links; stored links never carry them.

Clover term (Sheikholeslami-Wohlert in Luescher-Sint-Sommer-Weisz's normalization):
    C(x) = c_sw (i/4) sum_{mu,nu} sigma_{mu nu} Fhat_{mu nu}(x),  sigma_{mu nu} = (i/2)[g_mu, g_nu],
         = -(c_sw/2) sum_{mu<nu} g_mu g_nu Fhat_{mu nu}(x),
    Fhat_{mu nu} = (1/8) (Q_{mu nu} - Q_{mu nu}^dag) with its trace removed (an element of su(3)),
Q_{mu nu}(x) the sum of the four plaquette leaves around x in the (mu, nu) plane, all starting and
ending at x and oriented mu-then-nu. C is Hermitian, commutes with gamma5 (so it is block diagonal
in chirality, spins (0,1) and (2,3)) and vanishes at c_sw = 0.

Flops per site: hopping term 1320 (the standard Wilson dslash count), clover term 504 (two 6x6
complex blocks), diagonal/axpy 48.

Precisions: ``dirac.operator(precision=HALF, reconstruct=12)`` and ``dirac.schur(parity, precision=...,
reconstruct=...)`` give the operator with links stored in that precision and compression (boundary
phases applied after decoding), the clover term and its inverse stored in it (one norm per site for
fixed point), and fields read and written in it (:class:`WilsonView`,
:mod:`hpcmix.operators.precision_view`).
"""

import numpy as np

from ..fields.su3 import dagger
from ..precision import DOUBLE
from .base import CanonicalParities, LinearOperator
from .gamma import GAMMA, P_MINUS, P_PLUS, apply_gamma5
from .precision_view import Halo, PrecisionView, shift_stored, store, view
from .wilson_fields import WilsonFields

DSLASH_FLOPS = 1320
CLOVER_FLOPS = 504


def kappa_to_mass(kappa):
    return 1.0 / (2.0 * kappa) - 4.0


def mass_to_kappa(mass):
    return 1.0 / (2.0 * mass + 8.0)


def phased_links(gauge, boundary):
    """U_mu(x) times b_mu on the last global slice in direction mu (the operator's copy)."""
    lattice = gauge.lattice
    links = [gauge.U[..., mu, :, :].copy() for mu in range(4)]
    for mu in range(4):
        if boundary[mu] != 1:
            last = lattice.coordinate(mu) == lattice.dims[mu] - 1
            links[mu] = np.where(last[..., None, None], boundary[mu] * links[mu], links[mu])
    return links


def clover_field_strength(lattice, links, mu, nu):
    """Fhat_{mu nu} = (Q - Q^dag)/8 minus its trace/3, from the clover leaf Q (see module doc)."""
    sh = lattice.shift
    umu, unu = links[mu], links[nu]
    unu_xpmu = sh(unu, mu, 1)
    umu_xpnu = sh(umu, nu, 1)
    umu_xmmu = sh(umu, mu, -1)
    unu_xmnu = sh(unu, nu, -1)
    # leaves around x: upper-right, upper-left, lower-left, lower-right
    q = umu @ unu_xpmu @ dagger(umu_xpnu) @ dagger(unu)
    q = q + unu @ dagger(sh(umu_xpnu, mu, -1)) @ dagger(sh(unu, mu, -1)) @ umu_xmmu
    q = q + dagger(umu_xmmu) @ dagger(sh(unu_xmnu, mu, -1)) @ sh(umu_xmmu, nu, -1) @ unu_xmnu
    q = q + dagger(unu_xmnu) @ sh(umu, nu, -1) @ sh(unu_xpmu, nu, -1) @ dagger(umu)
    f = (q - dagger(q)) / 8.0
    tr = np.trace(f, axis1=-2, axis2=-1) / 3.0
    return f - tr[..., None, None] * np.eye(3)


def clover_matrix(lattice, links, csw, diagonal):
    """A(x) = diagonal + C(x) as a 12x12 matrix per site, index (spin, color) -> 3*spin + color."""
    a = np.zeros(lattice.shape + (12, 12), dtype=np.complex128)
    a[..., range(12), range(12)] = diagonal
    for mu in range(4):
        for nu in range(mu + 1, 4):
            f = clover_field_strength(lattice, links, mu, nu)
            spin = -0.5 * csw * (GAMMA[mu] @ GAMMA[nu])
            a += np.einsum("st,...ab->...satb", spin, f).reshape(lattice.shape + (12, 12))
    return a


class WilsonDirac(CanonicalParities):
    """The Wilson operator M = A - D_w/2 on a gauge field. ``A`` is the site-local term: the scalar
    4 + m, or (``clover=True``) a 12x12 matrix per site built from ``site_term`` (default: the
    clover term with coefficient ``csw``). Subclasses may supply other site terms (twisted mass).
    It works in double precision; :meth:`at` gives it in others."""

    precision, reconstruct = DOUBLE, 18
    hop_depth = 1                  # the longest hop, in sites

    def __init__(self, gauge, mass, boundary=(1, 1, 1, -1), csw=0.0, clover=None):
        self.gauge = gauge
        self.lattice = self.space = gauge.lattice
        self.mass = float(mass)
        self.kappa = mass_to_kappa(self.mass)
        self.csw = float(csw)
        self.boundary = tuple(boundary)
        self.links = phased_links(gauge, self.boundary)
        self.links_t = [np.ascontiguousarray(np.swapaxes(u, -1, -2)) for u in self.links]   # U^T
        self.links_c = [np.conj(u) for u in self.links]                                        # U^*
        self.diagonal = 4.0 + self.mass
        if clover is None:
            clover = self.csw != 0.0
        if clover:
            self.clover = self.site_term()
            self.clover_inv = np.linalg.inv(self.clover)
        else:
            self.clover = self.clover_inv = None
        self.site_flops = DSLASH_FLOPS + (CLOVER_FLOPS if self.clover is not None else 48)
        self.flops = self.site_flops * self.lattice.volume  # global flops of one application

    def site_term(self):
        """A(x) as 12x12 matrices: (4 + m) + C(x) with the clover term C."""
        return clover_matrix(self.lattice, self.links, self.csw, self.diagonal)

    # ---- building blocks -------------------------------------------------------------------------
    def hop(self, psi):
        """D_w psi (see module doc); faces of all 8 directions are in flight together."""
        lat = self.lattice
        forward = [lat.pg.start_shift(psi, mu, 1) for mu in range(4)]
        # U_mu(x-mu)^dag psi(x-mu) = shift by -mu of (U_mu^dag psi); (psi @ U^*)[s,a] = sum_b U^dag[a,b] psi[s,b]
        backward = [lat.pg.start_shift(psi @ self.links_c[mu], mu, -1) for mu in range(4)]
        out = np.zeros_like(psi)
        for mu in range(4):
            out += P_MINUS[mu] @ (forward[mu].wait() @ self.links_t[mu])
            out += P_PLUS[mu] @ backward[mu].wait()
        return out

    def diag(self, psi, inverse=False, dagger=False):
        """A psi, A^-1 psi, A^dag psi or A^-dag psi: (4 + m) for Wilson, 12x12 per site otherwise."""
        if self.clover is None:
            return psi * (1.0 / self.diagonal if inverse else self.diagonal)
        a = self.clover_inv if inverse else self.clover
        if dagger:
            a = np.conj(np.swapaxes(a, -1, -2))
        flat = psi.reshape(psi.shape[:4] + (12, 1))
        return (a @ flat).reshape(psi.shape)

    def hop_dag(self, psi):
        """D_w^dag = gamma5 D_w gamma5."""
        return apply_gamma5(self.hop(apply_gamma5(psi)))

    def M(self, psi):
        return self.diag(psi) - 0.5 * self.hop(psi)

    def Mdag(self, psi):
        """M^dag = A^dag - D_w^dag / 2 (= gamma5 M gamma5 where A is Hermitian)."""
        return self.diag(psi, dagger=True) - 0.5 * self.hop_dag(psi)

    def operator(self, precision=None, reconstruct=None):
        """M as a LinearOperator; in ``precision`` with links compressed to ``reconstruct`` where given."""
        if precision is not None:
            return self.at(precision, reconstruct).operator()
        return LinearOperator(self.lattice, self.M, self.Mdag, flops=self.flops, name="M", at=self.operator)

    def on_backend(self, backend):
        """This operator on ``backend``'s even-odd half-lattice fields (:class:`WilsonFields`)."""
        return WilsonFields(self, backend)

    def at(self, precision, reconstruct=None):
        """This operator with links, clover term and fields stored in ``precision`` (:class:`WilsonView`)."""
        return view(self, WilsonView, precision, reconstruct)

    # ---- even-odd (Schur) preconditioning ------------------------------------------------------------
    def parity_mask(self, parity):
        return (self.lattice.parity == parity)[..., None, None]

    def schur(self, parity=0, precision=None, reconstruct=None):
        """The asymmetric Schur complement on sites of ``parity`` (0 = even):
            Mhat = A_ee - (1/4) D_eo A_oo^-1 D_oe,
        with prepare(b) = b_e + (1/2) D_eo A_oo^-1 b_o and
        reconstruct(x_e, b) = x_e + A_oo^-1 (b_o + (1/2) D_oe x_e).
        Fields are full-lattice arrays that vanish on the other parity. With ``precision`` (and
        ``reconstruct``) the three work in that precision."""
        if precision is not None:
            return self.at(precision, reconstruct).schur(parity)
        keep = self.parity_mask(parity)
        other = ~keep

        def mhat(x):
            return self.diag(x) - 0.25 * self.hop(self.diag(self.hop(x), inverse=True))

        def mhat_dag(x):
            return self.diag(x, dagger=True) - 0.25 * self.hop_dag(
                self.diag(self.hop_dag(x), inverse=True, dagger=True))

        def prepare(b):
            return b * keep + 0.5 * self.hop(self.diag(b * other, inverse=True))

        def reconstruct(x, b):
            return x + self.diag(b * other + 0.5 * self.hop(x), inverse=True)

        op = LinearOperator(self.lattice, mhat, mhat_dag, flops=self.flops, name="Mhat_ee",
                            at=lambda p, r: self.schur(parity, p, r)[0])
        return op, prepare, reconstruct


class WilsonView(PrecisionView, WilsonDirac):
    """A :class:`WilsonDirac` in another storage precision (see :mod:`.precision_view`).

    Links U_mu(x) are stored with ``reconstruct`` (unphased, so 12 and 8 stay exact for SU(3) links),
    as are the backward links U_mu(x - mu), shifted once in storage format; boundary phases multiply
    the decoded links. The clover term and its inverse (computed in double) are stored with one norm
    per site. The hopping term stores its input (QUDA's dslash reads a stored field: the operator's
    input, or the A^-1 D x of the Schur complement), so halos travel in storage format; the
    LinearOperators round their input and output to storage."""

    def __init__(self, base, precision, reconstruct):
        PrecisionView.__init__(self, base, precision, reconstruct)
        for name in ("mass", "kappa", "csw", "boundary", "diagonal", "site_flops", "gauge"):
            setattr(self, name, getattr(base, name))
        lat, cdt = self.lattice, precision.compute_dtype
        self.links_t, self.links_back_c = [], []
        for mu in range(4):
            stored = precision.encode_links(base.gauge.U[..., mu, :, :], reconstruct)
            last = lat.coordinate(mu) == lat.dims[mu] - 1
            first = lat.coordinate(mu) == 0
            u = self._phased(stored.decode(), last, mu)
            back = self._phased(shift_stored(lat, stored, mu, -1).decode(), first, mu)
            self.links_t.append(np.ascontiguousarray(np.swapaxes(u, -1, -2)))
            self.links_back_c.append(np.conj(back))
        self.p_minus, self.p_plus = P_MINUS.astype(cdt), P_PLUS.astype(cdt)
        if base.clover is None:
            self.clover = self.clover_inv = None
        else:
            self.clover, self.clover_inv = store(precision, base.clover), store(precision, base.clover_inv)

    def _phased(self, links, where, mu):
        """Links times the boundary phase b_mu at the sites ``where``."""
        if self.boundary[mu] == 1:
            return links
        return np.where(where[..., None, None], links * links.dtype.type(self.boundary[mu]), links)

    def hop(self, psi):
        """D_w psi with psi stored first; all 8 neighbour fields are in flight together."""
        halo = Halo(self.lattice, self.precision, psi)
        forward = [halo.start(mu, 1) for mu in range(4)]
        backward = [halo.start(mu, -1) for mu in range(4)]
        out = np.zeros_like(halo.field)
        for mu in range(4):
            out += self.p_minus[mu] @ (forward[mu].wait() @ self.links_t[mu])
            out += self.p_plus[mu] @ (backward[mu].wait() @ self.links_back_c[mu])
        return out

    def operator(self, precision=None, reconstruct=None):
        if precision is not None:
            return self.at(precision, reconstruct).operator()
        return self.rounded(WilsonDirac.operator(self), self.operator)

    def schur(self, parity=0, precision=None, reconstruct=None):
        if precision is not None:
            return self.at(precision, reconstruct).schur(parity)
        op, prepare, reconstruct_ = WilsonDirac.schur(self, parity)
        return self.rounded(op, lambda p, r: self.schur(parity, p, r)[0]), prepare, reconstruct_
