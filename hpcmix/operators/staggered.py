"""Staggered Dirac operators (naive and asqtad) in MILC's convention, with even-odd preconditioning.

    M = 2 m + D,
    D psi(x) = sum_mu [ W_mu(x) psi(x+mu) - W_mu(x-mu)^dag psi(x-mu)
                        + L_mu(x) psi(x+3mu) - L_mu(x-3mu)^dag psi(x-3mu) ]

(no factor 1/2), on color vectors psi[t, z, y, x, 3]. D is anti-Hermitian and connects even and odd
sites only, so M^dag = 2 m - D and M^dag M = 4 m^2 - D^2 is parity-diagonal.

The operator keeps its own copy of the thin links with MILC's staggered phases (on global
coordinates, built in the order t, x, y, z)
    eta_t = 1,  eta_x = (-1)^t,  eta_y = (-1)^(t+x),  eta_z = (-1)^(t+x+y)
and the boundary phases b_mu (on the last global slice x_mu = L_mu - 1; antiperiodic in t by
default) multiplied in: V_mu(x) = eta_mu(x) b_mu(x) U_mu(x). Naive staggered: W = V, L = 0. Asqtad:
W and L are the fat and Naik links built from V (:mod:`hpcmix.operators.asqtad_links`).

Epsilon-hermiticity: with eps(x) = (-1)^(x+y+z+t), eps D eps = -D, so M^dag = eps M eps and the
propagator obeys G(0, x) = eps(0) eps(x) G(x, 0)^dag. The Goldstone pion (gamma5 x xi5)
C(t) = sum_x eps(x) eps(0) tr[G(x, 0) G(0, x)] is therefore sum_x sum_colors |G(x, 0)|^2, which is
what the meson stage computes from a point-source staggered propagator.

Flops per site (DESIGN.md): asqtad hopping term 1146 (16 SU(3) mat-vecs at 66 and 15 vector adds at
6), naive 570 (8 mat-vecs, 7 adds); the mass term and its add 12.

Precisions: ``operator``, ``normal_operator`` and ``schur`` take ``precision`` and ``reconstruct`` and
then work with links and fields stored in that precision (:class:`StaggeredView`). Fat and Naik links
are not SU(3) and their entries exceed 1, so asqtad needs reconstruct 18 and stores them with one
norm per link in fixed point; naive staggered stores the thin links, unphased, with any reconstruct.
"""

import numpy as np

from ..errors import HpcmixError
from ..fields.su3 import dagger
from ..precision import DOUBLE
from .asqtad_links import asqtad_links
from .base import CanonicalParities, LinearOperator
from .precision_view import Halo, PrecisionView, shift_stored, view

ASQTAD_FLOPS = 1146
NAIVE_FLOPS = 570
MASS_FLOPS = 12


#: The directions whose coordinates enter eta_mu = (-1)^(sum of them): MILC's t, x, y, z order.
_ETA_COORDINATES = {0: (3,), 1: (3, 0), 2: (3, 0, 1), 3: ()}


def staggered_phase(lattice, mu):
    """MILC's eta_mu(x) = +-1 on global coordinates (see module doc), on the local lattice."""
    exponent = sum((lattice.coordinate(nu) for nu in _ETA_COORDINATES[mu]), np.zeros((1, 1, 1, 1), dtype=int))
    return np.broadcast_to(1.0 - 2.0 * (exponent % 2), lattice.shape)


def staggered_link_phases(lattice, boundary):
    """eta_mu(x) b_mu(x) for mu = 0..3 (b_mu on the last global slice x_mu = L_mu - 1), on the local
    lattice."""
    out = []
    for mu in range(4):
        phase = staggered_phase(lattice, mu).copy()
        if boundary[mu] != 1:
            phase[np.broadcast_to(lattice.coordinate(mu) == lattice.dims[mu] - 1, lattice.shape)] *= boundary[mu]
        out.append(phase)
    return out


def staggered_links(gauge, boundary):
    """V_mu(x) = eta_mu(x) b_mu(x) U_mu(x) for mu = 0..3: the operator's phased copy of the links."""
    phases = staggered_link_phases(gauge.lattice, boundary)
    return [phases[mu][..., None, None] * gauge.U[..., mu, :, :] for mu in range(4)]


class _Shifted:
    """An already completed shift with the handle interface of ``ProcessGrid.start_shift``."""

    def __init__(self, array):
        self.array = array

    def wait(self):
        return self.array


def start_shift(lattice, array, mu, k):
    """A handle whose ``wait()`` gives ``array[x + k mu]``. Shifts within the local extent go out as
    one non-blocking exchange; longer ones (a 3-hop on a local extent of 2) are composed at once."""
    step = lattice.local_dims[mu]
    if abs(k) <= step:
        return lattice.pg.start_shift(array, mu, k)
    sign = 1 if k > 0 else -1
    while abs(k) > step:
        array = lattice.shift(array, mu, sign * step)
        k -= sign * step
    return _Shifted(lattice.shift(array, mu, k))


def _columns(w):
    """w[..., a, b] as its columns: c[b][..., a] = w[..., a, b] (for :func:`_mv`)."""
    return np.ascontiguousarray(np.moveaxis(w, -1, 0))


def _mv(columns, psi):
    """w(x) psi(x) per site, for w given by its ``columns`` and color vectors psi[..., 3]."""
    return columns[0] * psi[..., 0:1] + columns[1] * psi[..., 1:2] + columns[2] * psi[..., 2:3]


class StaggeredDirac(CanonicalParities):
    """M = 2 m + D on a gauge field (see module doc). ``coefficients`` are the asqtad path
    coefficients in MILC's order (one-link, Naik, 3-staple, 5-staple, 7-staple, Lepage); None gives
    the naive staggered operator. It works in double precision; :meth:`at` gives it in others."""

    precision, reconstruct = DOUBLE, 18

    def __init__(self, gauge, mass, boundary=(1, 1, 1, -1), coefficients=None):
        self.gauge = gauge
        self.lattice = self.space = gauge.lattice
        self.mass = float(mass)
        self.boundary = tuple(boundary)
        self.coefficients = None if coefficients is None else tuple(float(c) for c in coefficients)
        thin = staggered_links(gauge, self.boundary)
        if self.coefficients is None:
            self.fat, self.long = thin, None
        else:
            self.fat, self.long = asqtad_links(self.lattice, thin, self.coefficients)
        # per hop length k: the columns of W (or L) and of W^dag (or L^dag), for every mu
        self._hops = [(k, [_columns(w) for w in links], [_columns(dagger(w)) for w in links])
                      for k, links in ((1, self.fat), (3, self.long)) if links is not None]
        self.hop_depth = 1 if self.long is None else 3       # the longest hop, in sites
        hop_flops = NAIVE_FLOPS if self.long is None else ASQTAD_FLOPS
        self.flops = (hop_flops + MASS_FLOPS) * self.lattice.volume  # global flops of one application

    # ---- building blocks -------------------------------------------------------------------------
    def hop(self, psi):
        """D psi (see module doc); the faces of all shifts are in flight together."""
        lat = self.lattice
        forward = [(start_shift(lat, psi, mu, k), cols[mu]) for k, cols, _ in self._hops for mu in range(4)]
        backward = [start_shift(lat, _mv(dag[mu], psi), mu, -k) for k, _, dag in self._hops for mu in range(4)]
        out = np.zeros_like(psi)
        for handle, cols in forward:
            out += _mv(cols, handle.wait())
        for handle in backward:
            out -= handle.wait()
        return out

    def M(self, psi):
        return 2.0 * self.mass * psi + self.hop(psi)

    def Mdag(self, psi):
        """M^dag = 2 m - D (D is anti-Hermitian)."""
        return 2.0 * self.mass * psi - self.hop(psi)

    def normal(self, psi):
        """M^dag M psi = 4 m^2 psi - D^2 psi."""
        return 4.0 * self.mass ** 2 * psi - self.hop(self.hop(psi))

    def operator(self, precision=None, reconstruct=None):
        """M as a LinearOperator; in ``precision`` with links compressed to ``reconstruct`` where given."""
        if precision is not None:
            return self.at(precision, reconstruct).operator()
        return LinearOperator(self.lattice, self.M, self.Mdag, flops=self.flops, name="M", at=self.operator)

    def on_backend(self, backend):
        """This operator on ``backend``'s even-odd half-lattice fields (:class:`StaggeredFields`)."""
        from .staggered_fields import StaggeredFields
        return StaggeredFields(self, backend)

    def at(self, precision, reconstruct=None):
        """This operator with links and fields stored in ``precision`` (:class:`StaggeredView`)."""
        return view(self, StaggeredView, precision, reconstruct)

    def normal_operator(self, parity=None, precision=None, reconstruct=None):
        """M^dag M as a Hermitian positive-definite LinearOperator: on the whole lattice, or (``parity``
        0 or 1) on fields that vanish off that parity, which it maps to fields that do too; in
        ``precision`` (and ``reconstruct``) where given."""
        if precision is not None:
            return self.at(precision, reconstruct).normal_operator(parity)
        flops = 2 * self.flops if parity is None else self.flops
        name = "MdagM" if parity is None else f"MdagM_{'eo'[parity] * 2}"
        return LinearOperator(self.lattice, self.normal, hermitian=True, flops=flops, name=name,
                              at=lambda p, r: self.normal_operator(parity, p, r))

    def parity_mask(self, parity):
        return (self.lattice.parity == parity)[..., None]

    # ---- even-odd (Schur) preconditioning ------------------------------------------------------------
    def schur(self, parity=0, precision=None, reconstruct=None):
        """The Schur complement of M on sites of ``parity`` (0 = even), scaled by 2m to be Hermitian
        positive definite (MILC's even-odd system):
            Mhat = 4 m^2 - D_eo D_oe,
        with prepare(b) = 2m b_e - D_eo b_o and reconstruct(x_e, b) = x_e + (b_o - D_oe x_e) / (2m).
        Fields are full-lattice arrays that vanish on the other parity. With ``precision`` (and
        ``reconstruct``) the three work in that precision."""
        if precision is not None:
            return self.at(precision, reconstruct).schur(parity)
        keep = self.parity_mask(parity)
        other = ~keep
        two_m = 2.0 * self.mass

        def prepare(b):
            return two_m * (b * keep) - self.hop(b * other)

        def reconstruct(x, b):
            return x + (b * other - self.hop(x)) / two_m

        return self.normal_operator(parity), prepare, reconstruct


class StaggeredView(PrecisionView, StaggeredDirac):
    """A :class:`StaggeredDirac` in another storage precision (see :mod:`.precision_view`).

    Naive staggered stores the thin links U_mu(x) with ``reconstruct`` (unphased) and multiplies the
    decoded links by eta_mu(x) b_mu(x); asqtad stores its fat and Naik links as they are, with one norm
    per link in fixed point (reconstruct 18 only). The backward links W_mu(x - k mu)^dag are shifted
    once, in storage format. The hopping term stores its input (the operator's input, or the D psi
    inside M^dag M), so halos, 3-hop ones included, travel in storage format; the LinearOperators
    round their input and output to storage."""

    def __init__(self, base, precision, reconstruct):
        PrecisionView.__init__(self, base, precision, reconstruct)
        for name in ("mass", "boundary", "coefficients", "gauge"):
            setattr(self, name, getattr(base, name))
        lat, cdt = self.lattice, precision.compute_dtype
        if base.long is None:
            phases = staggered_link_phases(lat, self.boundary)
            links = [(1, [precision.encode_links(base.gauge.U[..., mu, :, :], reconstruct) for mu in range(4)])]
        elif reconstruct != 18:
            raise HpcmixError(f"asqtad fat and Naik links are not SU(3) and cannot be stored with reconstruct "
                              f"{reconstruct}; use reconstruct 18")
        else:
            phases = None
            links = [(k, [precision.encode(w, site_ndim=4) for w in ws]) for k, ws in ((1, base.fat), (3, base.long))]
        self._hops = []
        for k, stored in links:
            forward, backward = [], []
            for mu in range(4):
                w = stored[mu].decode()
                back = shift_stored(lat, stored[mu], mu, -k, start_shift).decode()   # W_mu(x - k mu)
                if phases is not None:
                    w = w * phases[mu][..., None, None]
                    back = back * start_shift(lat, phases[mu], mu, -k).wait()[..., None, None]
                forward.append(_columns(w.astype(cdt)))
                backward.append(_columns(dagger(back).astype(cdt)))
            self._hops.append((k, forward, backward))

    def hop(self, psi):
        """D psi with psi stored first; the faces of all shifts are in flight together."""
        halo = Halo(self.lattice, self.precision, psi, start_shift)
        forward = [(halo.start(mu, k), cols[mu]) for k, cols, _ in self._hops for mu in range(4)]
        backward = [(halo.start(mu, -k), back[mu]) for k, _, back in self._hops for mu in range(4)]
        out = np.zeros_like(halo.field)
        for handle, cols in forward:
            out += _mv(cols, handle.wait())
        for handle, cols in backward:
            out -= _mv(cols, handle.wait())
        return out

    def operator(self, precision=None, reconstruct=None):
        if precision is not None:
            return self.at(precision, reconstruct).operator()
        return self.rounded(StaggeredDirac.operator(self), self.operator)

    def normal_operator(self, parity=None, precision=None, reconstruct=None):
        if precision is not None:
            return self.at(precision, reconstruct).normal_operator(parity)
        return self.rounded(StaggeredDirac.normal_operator(self, parity),
                            lambda p, r: self.normal_operator(parity, p, r))

