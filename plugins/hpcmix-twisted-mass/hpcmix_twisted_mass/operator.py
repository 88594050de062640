"""The twisted-mass Wilson operator M = A - D_w/2 with the site term
A = (4 + m) + i mu gamma5 (+ the clover term c_sw), in hpcmix's conventions (DeGrand-Rossi basis,
gamma5 = diag(1, 1, -1, -1)). Its adjoint is M(mu)^dag = gamma5 M(-mu) gamma5; the site term is
not Hermitian, which WilsonDirac's A^dag handling covers."""

import numpy as np

from hpcmix.operators.gamma import GAMMA5
from hpcmix.operators.specs import Wilson, resolve_boundary
from hpcmix.operators.wilson import WilsonDirac, clover_matrix
from hpcmix.params import Param


class TwistedMassDirac(WilsonDirac):
    def __init__(self, gauge, mass, mu, boundary=(1, 1, 1, -1), csw=0.0):
        self.mu = float(mu)
        super().__init__(gauge, mass, boundary, csw=csw, clover=True)

    def site_term(self):
        a = clover_matrix(self.lattice, self.links, self.csw, self.diagonal)
        return a + 1j * self.mu * np.kron(GAMMA5, np.eye(3))


class TwistedMass(Wilson):
    name = "twisted_mass"
    description = "twisted-mass Wilson(-clover) fermions, M = (4 + m) + i mu g5 - D_w/2 (plugin)"
    params = dict(Wilson.params,
                  mu=Param(float, doc="twisted mass mu"),
                  csw=Param(float, 0.0, "clover coefficient c_sw (0: plain twisted mass)"))

    @classmethod
    def build(cls, gauge, cfg, ctx):
        return TwistedMassDirac(gauge, cls.mass_of(cfg), cfg["mu"], resolve_boundary(cfg, ctx), csw=cfg["csw"])
