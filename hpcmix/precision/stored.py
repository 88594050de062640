"""A field or gauge field as it lies in memory in some precision, and the real/complex storage layout.

Layout. A complex field ``x`` whose first ``site_ndim`` axes are lattice sites ``[t, z, y, x]`` and
whose remaining axes are the site's components (spinor ``[4, 3]``, staggered ``[3]``) is stored as

* ``data``: real numbers of shape ``x.shape + (2,)`` (re, im last) in the precision's storage dtype;
* ``norm``: one number per site, shape ``x.shape[:site_ndim]``, only where the precision keeps a norm.

Links ``U[..., 3, 3]`` are stored as ``data[..., n]``, the ``n = reconstruct`` real parameters of
:mod:`hpcmix.precision.reconstruct` (all in [-1, 1]), without a norm; ``site_ndim = U.ndim - 2``.

Everything is shifted on the lattice in its storage dtype, so a halo exchange of a ``half`` field
moves int16 components plus float32 norms, never float32 components.
"""

import numpy as np


def as_reals(x):
    """The complex array ``x`` as float64 numbers of shape ``x.shape + (2,)`` (re, im last)."""
    x = np.ascontiguousarray(x, dtype=np.complex128)
    return x.view(np.float64).reshape(x.shape + (2,))


def as_complex(r):
    """The inverse of :func:`as_reals`: reals ``[..., 2]`` as complex numbers of the same precision."""
    r = np.ascontiguousarray(r)
    return r.view(np.result_type(r.dtype, np.complex64))[..., 0]


class Stored:
    """Storage arrays of one field (``reconstruct is None``) or one gauge field (``reconstruct`` = 18, 12, 8).

    ``precision`` is the :class:`~hpcmix.precision.base.FieldPrecision` that wrote it; ``data`` and
    ``norm`` (or None) are laid out as the module docstring says; the first ``site_ndim`` axes of both
    are sites. The first four site axes are the lattice axes ``[t, z, y, x]`` whenever it is shifted.
    """

    __slots__ = ("precision", "data", "norm", "site_ndim", "reconstruct")

    def __init__(self, precision, data, norm=None, site_ndim=4, reconstruct=None):
        self.precision, self.data, self.norm = precision, data, norm
        self.site_ndim, self.reconstruct = site_ndim, reconstruct

    @property
    def shape(self):
        """The shape of the decoded array."""
        return self.data.shape[:-1] + ((3, 3) if self.reconstruct is not None else ())

    @property
    def nbytes(self):
        """Bytes of storage: data plus norms."""
        return self.data.nbytes + (self.norm.nbytes if self.norm is not None else 0)

    def decode(self):
        """The stored numbers as an array of the precision's compute dtype."""
        return self.precision.decode(self)

    def to(self, precision, reconstruct=None):
        """The same field stored in ``precision`` (and, for links, ``reconstruct``; default: unchanged).

        Links keeping their reconstruct are converted parameter by parameter (exact towards a wider
        format); a new reconstruct goes through the full links.
        """
        if self.reconstruct is None:
            return precision.encode(self.decode(), self.site_ndim)
        if reconstruct is None or reconstruct == self.reconstruct:
            params = self.precision.decode_params(self.data).astype(np.float64)
            return precision.store_link_params(params, self.reconstruct)
        return precision.encode_links(self.decode(), reconstruct)

    def start_shift(self, lattice, mu, k=1):
        """Begin ``out[x] = self[x + k mu]`` on ``lattice`` (periodic); data and norms travel as
        stored, in flight together. ``wait()`` on the result gives the shifted :class:`Stored`."""
        return _PendingShift(self, [lattice.pg.start_shift(a, mu, k) for a in self._arrays()])

    def shift(self, lattice, mu, k=1):
        """``out[x] = self[x + k mu]`` with periodic wrap over the global lattice, in storage format."""
        return self.start_shift(lattice, mu, k).wait()

    def _arrays(self):
        return [self.data] if self.norm is None else [self.data, self.norm]

    def __repr__(self):
        what = f"links, reconstruct {self.reconstruct}" if self.reconstruct else f"field, {self.site_ndim} site axes"
        return f"<Stored {self.precision.name} {what}, shape {self.shape}, {self.nbytes} bytes>"


class _PendingShift:
    def __init__(self, stored, handles):
        self.stored, self.handles = stored, handles

    def wait(self):
        arrays = [h.wait() for h in self.handles]
        s = self.stored
        return Stored(s.precision, arrays[0], arrays[1] if len(arrays) > 1 else None, s.site_ndim, s.reconstruct)
