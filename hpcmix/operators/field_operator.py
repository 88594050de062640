"""What every Dirac operator on a backend's even-odd half-lattice fields shares.

A subclass names its hopping kernel (``hop_kernel``), the site shape of its fields (``site_shape``;
``ncomp`` = 2 prod(site_shape) reals per site) and builds its links (``make_links``); this class gives
it the layout (hops up to ``dirac.hop_depth`` sites), the field spaces, the conversions at the deck
boundary, views in other precisions (:meth:`at`) and the hopping term with communication overlap:
interior rows (none of whose neighbours is a ghost row) are computed while the halo faces are in
flight, then the boundary rows, which gives the same numbers as computing all rows at once.
"""

import numpy as np

from ..fields.field import Field
from ..fields.full import FullField, FullSpace
from ..fields.halo import Halo
from ..fields.layout import EvenOddLayout
from ..fields.space import FieldSpace
from ..precision import DOUBLE


class FieldOperator:
    hop_kernel = ""
    site_shape = ()

    def __init__(self, dirac, backend, precision=DOUBLE, reconstruct=18, layout=None, overlap=True, base=None):
        self.dirac, self.backend, self.precision, self.reconstruct = dirac, backend, precision, reconstruct
        self.lattice = dirac.lattice
        self.layout = layout or EvenOddLayout(self.lattice, dirac.hop_depth)
        self.overlap = overlap
        self.base = base or self
        self.ncomp = 2 * int(np.prod(self.site_shape))
        self.links = self.make_links()
        self.spaces = [FieldSpace(self.layout, p, backend, self.ncomp) for p in (0, 1)]
        self.space = FullSpace(self.spaces)
        self.flops = dirac.flops
        self._views = {} if base is None else None
        self._hop = backend.kernel(self.hop_kernel)
        self._faces = self.face_kernels()

    def face_kernels(self):
        """(pack, unpack) kernels of the ghost rows sent to other ranks (:class:`Halo`), or None: as stored."""
        return None

    def make_links(self):
        raise NotImplementedError

    def at(self, precision, reconstruct=None):
        """This operator in ``precision`` with ``reconstruct`` (default 18), built once."""
        reconstruct = 18 if reconstruct is None else reconstruct
        base = self.base
        if precision is base.precision and reconstruct == base.reconstruct:
            return base
        key = (precision.name, reconstruct)
        if key not in base._views:
            base._views[key] = type(self)(self.dirac, self.backend, precision, reconstruct, self.layout, self.overlap,
                                          base)
        return base._views[key]

    # ---- the canonical layout at the deck boundary -----------------------------------------------
    def import_field(self, array):
        """The canonical local field ``array[t, z, y, x, *site_shape]`` as a double :class:`FullField`."""
        return FullField(*(Field.from_canonical(self.layout, p, DOUBLE, array, self.backend) for p in (0, 1)))

    def export_field(self, x):
        """A :class:`FullField`, or a half-lattice field (zero on the other parity), as the canonical
        complex128 array ``[t, z, y, x, *site_shape]``."""
        out = self.lattice.zeros(self.site_shape)
        for part in (x.parts if isinstance(x, FullField) else (x,)):
            part.to_canonical(out, self.site_shape)
        return out

    @staticmethod
    def parity_part(x, parity):
        """The half-lattice field of ``parity`` of a :class:`FullField` (what even-odd solvers ask)."""
        return x[parity]

    @staticmethod
    def join_parities(parts):
        return FullField(*parts)

    # ---- building blocks (outputs stored in this precision) ----------------------------------------
    def new(self, parity):
        return self.spaces[parity].new(self.precision)

    def stored(self, x):
        """``x`` in this operator's precision."""
        return self.spaces[x.parity].convert(x, self.precision)

    def hop(self, x, out=None):
        """The hopping term from ``x``'s parity to the other; interior rows while the halo is in flight where
        that helps."""
        out = self.new(1 - x.parity) if out is None else out
        halo = Halo(x, self._faces).start()
        lay = self.layout
        if self.overlap and lay.nghost and not lay.split[0]:
            self._hop(out, x, self.links, halo, lay.interior_rows)
            halo.wait()
            self._hop(out, x, self.links, halo, lay.boundary_rows)
        else:
            halo.wait()
            self._hop(out, x, self.links, halo, lay.all_rows)
        return out
