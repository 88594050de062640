"""Gauge links in the even-odd row layout, as the hopping kernels read them.

For each output parity p, ``params[p][row, d, k, xh]`` (storage dtype, ``reconstruct`` parameters k,
:mod:`hpcmix.precision.reconstruct`) holds the link of direction d = 0..7 (x+, x-, y+, ..., t-) seen
from the site (row, xh) of parity p: U_mu(x) for d = 2 mu and U_mu(x - mu) for d = 2 mu + 1 (the
backward link, shifted here once, in storage format, so the kernel reads contiguous rows). Links are
stored unphased (reconstruct 12 and 8 stay exact for SU(3) links); the real boundary phases
``phase[p][row, d, xh]`` (compute dtype) multiply the link term in the kernel: b_mu where the hop
crosses the global boundary (x_mu = L_mu - 1 forward, x_mu = 0 backward), else 1. Decoding is
``params * scale`` (``scale`` = 1/M for fixed point, 1 otherwise).
"""

import numpy as np


class RowLinks:
    def __init__(self, layout, U, precision, reconstruct, boundary, backend):
        """``U[t, z, y, x, mu, 3, 3]`` local links (any SU(3) check is the precision's, for 12 and 8)."""
        self.layout, self.precision, self.reconstruct = layout, precision, reconstruct
        lattice = layout.lattice
        cdt = precision.real_dtype
        stored = [precision.encode_links(U[..., mu, :, :], reconstruct).data for mu in range(4)]
        back = [lattice.shift(s, mu, -1) for mu, s in enumerate(stored)]   # U_mu(x - mu), as stored
        self.params, self.phase = [], []
        for p in (0, 1):
            per_d = []
            for mu in range(4):
                per_d += [layout.to_rows(stored[mu], p), layout.to_rows(back[mu], p)]   # [nrows, Xh, R]
            self.params.append(backend.asarray(np.ascontiguousarray(np.stack(per_d, axis=1).transpose(0, 1, 3, 2))))
            ph = np.ones((layout.nrows, 8, layout.xh), cdt)
            for mu in range(4):
                if boundary[mu] != 1:
                    coord = layout.global_coordinate(p, mu)
                    ph[:, 2 * mu][coord == lattice.dims[mu] - 1] = boundary[mu]
                    ph[:, 2 * mu + 1][coord == 0] = boundary[mu]
            self.phase.append(backend.asarray(ph))
        scale = getattr(precision, "scale", None)
        self.scale = cdt.type(1.0 / scale) if scale else cdt.type(1.0)

    @property
    def nbytes(self):
        return sum(a.nbytes for a in self.params)
