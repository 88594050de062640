"""The naive and asqtad staggered operators on a backend's even-odd fields (the fast path of their solves).

The same operator as :class:`~hpcmix.operators.staggered.StaggeredDirac` (MILC's convention,
M = 2 m + D, D anti-Hermitian and parity-changing), applied by the ``staggered_hop`` kernel to
half-lattice colour-vector fields in one storage precision. Naive staggered keeps the thin links
unphased (any reconstruct) and multiplies eta_mu b_mu in the kernel; asqtad stores its fat and Naik
links phased, reconstruct 18, each set scaled by its largest entry in fixed point, and hops up to 3
sites (a layout of depth 3: three slices of ghost rows, two lanes of column ghosts).

On parity p (q = 1 - p) the even-odd system is MILC's, as in ``StaggeredDirac.schur``:

    Mhat = 4 m^2 - D_pq D_qp           (Hermitian positive definite; equal to M^dag M on parity p),
    prepare(b) = 2 m b_p - D_pq b_q,   reconstruct(x_p, b) = (x_p, (b_q - D_qp x_p) / (2 m)).
"""

from ..errors import HpcmixError
from ..fields.full import FullField
from ..fields.links import RowLinks
from .base import LinearOperator
from .field_operator import FieldOperator
from .staggered import staggered_link_phases, start_shift


class StaggeredFields(FieldOperator):
    hop_kernel = "staggered_hop"
    site_shape = (3,)

    def make_links(self):
        d, lat = self.dirac, self.lattice
        if d.long is None:
            return RowLinks.thin(self.layout, d.gauge.U, self.precision, self.reconstruct,
                                 staggered_link_phases(lat, d.boundary), self.backend)
        if self.reconstruct != 18:
            raise HpcmixError(f"asqtad fat and Naik links are not SU(3) and cannot be stored with reconstruct "
                              f"{self.reconstruct}; use reconstruct 18")
        return RowLinks.phased(self.layout, [(1, d.fat), (3, d.long)], self.precision, self.backend,
                               lambda a, mu, k: start_shift(lat, a, mu, k).wait())

    def _mhat(self, x):
        """4 m^2 x - D D x on ``x``'s parity."""
        x = self.stored(x)
        u = self.hop(self.hop(x))
        return self.spaces[x.parity].lincomb(u, (4.0 * self.dirac.mass ** 2, -1.0), (x, u))

    def normal_operator(self, parity=None):
        """M^dag M on fields of ``parity`` (it maps them to fields of that parity: 4 m^2 - D_pq D_qp), or on
        :class:`FullField` s for None."""
        if parity is None:
            return LinearOperator(self.space, lambda x: FullField(self._mhat(x[0]), self._mhat(x[1])), hermitian=True,
                                  flops=2 * self.flops, name="MdagM", precision=self.precision,
                                  reconstruct=self.reconstruct, at=lambda p, r: self.at(p, r).normal_operator())
        return LinearOperator(self.spaces[parity], self._mhat, hermitian=True, flops=self.flops,
                              name=f"MdagM_{'eo'[parity] * 2}", precision=self.precision, reconstruct=self.reconstruct,
                              at=lambda p, r: self.at(p, r).normal_operator(parity))

    def schur(self, parity=0):
        """(Mhat, prepare, reconstruct) on sites of ``parity`` (module doc), on :class:`FullField` s."""
        q, two_m = 1 - parity, 2.0 * self.dirac.mass

        def prepare(b):
            u = self.hop(self.stored(b[q]))
            return self.spaces[parity].lincomb(u, (two_m, -1.0), (self.stored(b[parity]), u))

        def reconstruct(x, b):
            x = self.stored(x)
            u = self.hop(x)
            xq = self.spaces[q].lincomb(u, (1.0 / two_m, -1.0 / two_m), (self.stored(b[q]), u))
            return FullField(x, xq) if parity == 0 else FullField(xq, x)

        return self.normal_operator(parity), prepare, reconstruct

    def operator(self):
        """M = 2 m + D on :class:`FullField` s (the full system's true residual)."""
        two_m = 2.0 * self.dirac.mass

        def apply(x, sign=1.0):
            parts = [self.stored(x[p]) for p in (0, 1)]
            out = [self.spaces[p].lincomb(u, (two_m, sign), (parts[p], u))
                   for p, u in ((p, self.hop(parts[1 - p])) for p in (0, 1))]
            return FullField(*out)

        return LinearOperator(self.space, apply, lambda x: apply(x, -1.0), flops=self.flops, name="M",
                              precision=self.precision, reconstruct=self.reconstruct,
                              at=lambda p, r: self.at(p, r).operator())
