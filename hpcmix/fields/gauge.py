"""The gauge field: local links ``U[t, z, y, x, mu, a, b]`` on this rank's box.

Stored links carry no boundary phases (operators apply them). The plaquette is normalized to 1 on
the unit field: P = < Re tr U_mu(x) U_nu(x+mu) U_mu(x+nu)^dag U_nu(x)^dag > / 3, averaged over the
six planes and all sites.
"""

import numpy as np

from .su3 import dagger, random_hermitian_traceless, random_su3, su3_exp_i


class GaugeField:
    def __init__(self, lattice, links, metadata=None):
        expected = lattice.shape + (4, 3, 3)
        if links.shape != expected:
            raise ValueError(f"gauge links have shape {links.shape}, expected {expected}")
        self.lattice = lattice
        self.U = links
        self.metadata = dict(metadata or {})

    # ---- constructors ---------------------------------------------------------------------------
    @classmethod
    def unit(cls, lattice):
        U = np.zeros(lattice.shape + (4, 3, 3), dtype=np.complex128)
        U[...] = np.eye(3)
        return cls(lattice, U, {"generator": "unit"})

    @classmethod
    def _per_timeslice(cls, lattice, seed, make):
        """Build links time slice by time slice from ``rng = default_rng([seed, t])`` over the whole
        global slice, so the field is the same for every process grid."""
        X, Y, Z, _ = lattice.dims
        box = lattice.box()
        U = np.empty(lattice.shape + (4, 3, 3), dtype=np.complex128)
        for i, t in enumerate(range(box[0].start, box[0].stop)):
            rng = np.random.default_rng([seed, t])
            full = make(rng, (Z, Y, X, 4))
            U[i] = full[box[1], box[2], box[3]]
        return U

    @classmethod
    def random(cls, lattice, seed):
        """Haar-random SU(3) links (a 'hot start')."""
        return cls(lattice, cls._per_timeslice(lattice, seed, random_su3),
                   {"generator": "random", "seed": seed})

    @classmethod
    def weak(cls, lattice, seed, epsilon=0.2):
        """Weak field U = exp(i epsilon H), H random Hermitian traceless with unit-normal entries."""
        make = lambda rng, shape: su3_exp_i(epsilon * random_hermitian_traceless(rng, shape))  # noqa: E731
        return cls(lattice, cls._per_timeslice(lattice, seed, make),
                   {"generator": "weak", "seed": seed, "epsilon": epsilon})

    # ---- observables ----------------------------------------------------------------------------
    def link(self, mu):
        return self.U[..., mu, :, :]

    def plaquette_field(self, mu, nu):
        """Re tr of the (mu, nu) plaquette at every local site (not normalized)."""
        lat = self.lattice
        umu, unu = self.link(mu), self.link(nu)
        unu_xmu = lat.shift(unu, mu, 1)
        umu_xnu = lat.shift(umu, nu, 1)
        p = umu @ unu_xmu @ dagger(umu_xnu) @ dagger(unu)
        return np.trace(p, axis1=-2, axis2=-1).real

    def plaquette(self):
        total = 0.0
        for mu in range(4):
            for nu in range(mu + 1, 4):
                total += self.plaquette_field(mu, nu).sum()
        return self.lattice.pg.sum(total) / (18.0 * self.lattice.volume)

    def link_trace(self):
        """< Re tr U_mu(x) > / 3 over all links (NERSC's LINK_TRACE)."""
        local = np.trace(self.U, axis1=-2, axis2=-1).real.sum()
        return self.lattice.pg.sum(local) / (12.0 * self.lattice.volume)

    # ---- transformations ------------------------------------------------------------------------
    def gauge_transform(self, g):
        """U_mu(x) -> g(x) U_mu(x) g(x+mu)^dag for local g[t, z, y, x, a, b]."""
        U = np.empty_like(self.U)
        for mu in range(4):
            U[..., mu, :, :] = g @ self.link(mu) @ dagger(self.lattice.shift(g, mu, 1))
        return GaugeField(self.lattice, U, self.metadata)

    def to_canonical(self, root=0):
        """The whole field ``[T, Z, Y, X, 4, 3, 3]`` on ``root`` (None elsewhere)."""
        return self.lattice.gather(self.U, root)
