"""Dirac operators in a storage precision (QUDA's sloppy operators): the pieces shared by every view.

A *view* of a Dirac object in precision P with link compression ``reconstruct`` is the same operator
with

* its gauge links (and other site matrices, e.g. the clover term) stored in P, compressed to
  ``reconstruct`` real parameters where they are SU(3), and decoded to P's compute dtype
  (complex64 for single/half/quarter) for the arithmetic;
* every field it reads or writes stored in P: the input is rounded to P's storage, intermediate
  fields a stencil kernel writes (the hopping term's input) too, and the output;
* halos in P's storage format: where a direction is split over ranks the stored data and norms
  travel (int16 + float32 for half) and are decoded on arrival; within a rank the decoded field is
  rolled. Decoding is site-local, so both give the same numbers and a view's result does not depend
  on the process grid.

Dirac classes get their views with :func:`view` (one per precision and reconstruct, built once) and
derive the view classes from :class:`PrecisionView`.
"""

from ..precision import Stored
from .base import LinearOperator


def store(precision, x, site_ndim=4):
    """A new array of ``precision``'s compute dtype holding ``x`` as stored in ``precision``
    (``precision.round``: a cast for IEEE formats). The first ``site_ndim`` axes are sites (one norm per
    site where the precision keeps norms)."""
    return precision.round(x, site_ndim)


def pg_shift(lattice, array, mu, k):
    """The process grid's non-blocking shift (|k| up to the local extent)."""
    return lattice.pg.start_shift(array, mu, k)


def shift_stored(lattice, stored, mu, k, start_shift=pg_shift):
    """``stored`` shifted by ``k`` in direction ``mu`` in its storage format (data and norms travel);
    ``start_shift(lattice, array, mu, k)`` moves one array."""
    handles = [start_shift(lattice, a, mu, k) for a in (stored.data, stored.norm) if a is not None]
    arrays = [h.wait() for h in handles]
    return Stored(stored.precision, arrays[0], arrays[1] if len(arrays) > 1 else None, stored.site_ndim,
                  stored.reconstruct)


class Halo:
    """The neighbours of one field stored in ``precision`` (the input of a stencil kernel).

    ``field`` is the field as stored (compute dtype); ``start(mu, k)`` begins ``out[x] = field[x + k mu]``
    and returns a handle whose ``wait()`` gives it. Across ranks the storage format travels (see
    module doc); ``start_shift`` is the array shift to use (staggered 3-hops compose it).
    """

    def __init__(self, lattice, precision, x, start_shift=pg_shift):
        self.lattice, self.start_shift = lattice, start_shift
        self.stored = precision.encode(x)
        self.field = self.stored.decode()

    def start(self, mu, k):
        if self.lattice.pg.grid[mu] == 1:
            return self.start_shift(self.lattice, self.field, mu, k)
        handles = [self.start_shift(self.lattice, a, mu, k) for a in (self.stored.data, self.stored.norm)
                   if a is not None]
        return _Arriving(self.stored, handles)


class _Arriving:
    def __init__(self, stored, handles):
        self.stored, self.handles = stored, handles

    def wait(self):
        arrays = [h.wait() for h in self.handles]
        s = self.stored
        return Stored(s.precision, arrays[0], arrays[1] if len(arrays) > 1 else None, s.site_ndim).decode()


def view(dirac, cls, precision, reconstruct):
    """``dirac`` in ``precision`` with links compressed to ``reconstruct`` (default 18): ``dirac`` itself
    where that is how it works, else the view ``cls(dirac, precision, reconstruct)``, built once."""
    reconstruct = 18 if reconstruct is None else reconstruct
    if precision is dirac.precision and reconstruct == dirac.reconstruct:
        return dirac
    views = dirac.__dict__.setdefault("_views", {})
    key = (precision.name, reconstruct)
    if key not in views:
        views[key] = cls(dirac, precision, reconstruct)
    return views[key]


class PrecisionView:
    """Base of the view classes (listed first, before the Dirac class they view): keeps ``base`` (the
    double-precision Dirac object), ``precision`` and ``reconstruct``; other precisions are asked of the
    base. Subclasses load their links in ``__init__`` and override the stencil."""

    def __init__(self, base, precision, reconstruct):
        self.base, self.precision, self.reconstruct = base, precision, reconstruct
        self.lattice = self.space = base.lattice
        self.flops = base.flops

    def at(self, precision, reconstruct=None):
        return self.base.at(precision, reconstruct)

    def store(self, x):
        return store(self.precision, x)

    def rounded(self, op, at):
        """``op`` (built on this view's links) reading and writing its fields in this view's precision;
        ``at`` gives it in other precisions."""
        def stored(f):
            return lambda x: self.store(f(self.store(x)))

        adjoint = None if op.hermitian else stored(op.adjoint())
        return LinearOperator(op.space, stored(op), adjoint, hermitian=op.hermitian, flops=op.flops,
                              name=f"{op.name}[{self.precision.name}, reconstruct {self.reconstruct}]",
                              precision=self.precision, reconstruct=self.reconstruct, at=at)
