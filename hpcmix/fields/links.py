"""Gauge links in the even-odd row layout, as the hopping kernels read them.

For each output parity p, ``params[p][row, d, k, xh]`` (storage dtype, ``reconstruct`` parameters k,
:mod:`hpcmix.precision.reconstruct`) holds the link of direction d (:mod:`hpcmix.fields.layout`: x+, x-,
y+, ..., t- for one-site hops, then the three-site ones) seen from the site (row, xh) of parity p:
U(x) for a forward d, U(x - h mu) for a backward one (shifted here once, so the kernel reads
contiguous rows). A link decodes as ``decode_params(params) * norm[d]``, which is ``params *
scale[d]`` (``scale[d]`` = norm[d] / M for fixed point, norm[d] otherwise); ``norm[d]`` is 1 for SU(3)
links and the largest |entry| over all ranks for links that are not (asqtad's fat and Naik links,
stored in fixed point as entries / norm).

Phases: Wilson and naive staggered links are stored unphased (reconstruct 12 and 8 stay exact for
SU(3) links) and ``phase[p][row, d, xh]`` (compute dtype) multiplies the link term in the kernel;
asqtad's links carry their phases (``phase`` is None).
"""

import numpy as np

from ..precision.reconstruct import pack


class RowLinks:
    def __init__(self, layout, stored, precision, reconstruct, backend, phases=None, norm=None):
        """``stored[d]``: the canonical local link parameters ``[t, z, y, x, R]`` of direction d as stored;
        ``phases[d]``: real canonical phases ``[t, z, y, x]`` or None; ``norm[d]``: see the module doc."""
        self.layout, self.precision, self.reconstruct = layout, precision, reconstruct
        ndir = len(stored)
        self.norm = np.ones(ndir) if norm is None else np.asarray(norm, np.float64)
        cdt = precision.real_dtype
        fixed = getattr(precision, "scale", None)
        self.scale = (self.norm / fixed if fixed else self.norm).astype(cdt)
        self.params = [backend.asarray(np.ascontiguousarray(
            np.stack([layout.to_rows(s, p) for s in stored], axis=1).transpose(0, 1, 3, 2))) for p in (0, 1)]
        self.phase = None if phases is None else [
            backend.asarray(np.ascontiguousarray(np.stack([layout.to_rows(np.broadcast_to(ph, layout.lattice.shape), p)
                                                           for ph in phases], axis=1).astype(cdt))) for p in (0, 1)]

    @classmethod
    def wilson(cls, layout, U, precision, reconstruct, boundary, backend):
        """Thin links ``U[t, z, y, x, mu, 3, 3]`` for one-site hops, with the boundary phases b_mu where a hop
        crosses the global boundary (x_mu = L_mu - 1 forward, x_mu = 0 backward)."""
        return cls.thin(layout, U, precision, reconstruct, [boundary_phase(layout.lattice, boundary, mu)
                                                            for mu in range(4)], backend)

    @classmethod
    def thin(cls, layout, U, precision, reconstruct, phases, backend):
        """Thin links for one-site hops with real phases ``phases[mu]`` (canonical, on the link U_mu(x));
        the backward direction reads U_mu(x - mu) and its phase shifted alike."""
        lattice = layout.lattice
        stored, ph = [], []
        for mu in range(4):
            s = precision.encode_links(U[..., mu, :, :], reconstruct).data
            stored += [s, lattice.shift(s, mu, -1)]
            p = np.ascontiguousarray(np.broadcast_to(phases[mu], lattice.shape))
            ph += [p, lattice.shift(p, mu, -1)]
        return cls(layout, stored, precision, reconstruct, backend, phases=ph)

    @classmethod
    def phased(cls, layout, sets, precision, backend, shift):
        """Links that carry their phases and are not SU(3), stored with reconstruct 18: ``sets`` pairs a hop
        length h with the four complex links ``[t, z, y, x, 3, 3]`` (mu = 0..3) of that hop; ``shift(a, mu,
        k)`` gives a[x + k mu]. Each set is scaled by its largest |entry| over all ranks."""
        pg = layout.lattice.pg
        stored, norm = [], []
        fixed = getattr(precision, "scale", None)
        for h, links in sets:
            scale = (pg.max(max(float(np.abs(np.stack([w.real, w.imag])).max(initial=0.0)) for w in links)) or 1.0
                     if fixed else 1.0)
            for mu in range(4):
                s = precision.encode_params(pack(links[mu] / scale, 18))
                stored += [s, shift(s, mu, -h)]
                norm += [scale, scale]
        return cls(layout, stored, precision, 18, backend, norm=norm)

    @property
    def nbytes(self):
        return sum(a.nbytes for a in self.params)


def boundary_phase(lattice, boundary, mu):
    """The real phase b_mu on the links U_mu(x) of the last global slice x_mu = L_mu - 1, 1 elsewhere
    (canonical, broadcastable)."""
    last = lattice.coordinate(mu) == lattice.dims[mu] - 1
    return np.where(last, float(boundary[mu]), 1.0)
