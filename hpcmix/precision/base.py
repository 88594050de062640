"""The precision interface, and the lookup of a field precision by name.

A precision is registered through the ``precisions`` hook. ``role`` says where it applies:
"field" precisions store lattice fields (double, single, half, quarter, ...; see DESIGN.md),
"factorization" precisions are the formats a dense LU runs in (fp32, tf32, bf16, fp16, ...).

Field precisions derive from :class:`FieldPrecision`, which turns four primitives of a storage
format (reals with a per-site norm, reals in [-1, 1] without one; each way) into the encoding of
fields and of compressed gauge links. Storage layout: :mod:`hpcmix.precision.stored`.
"""

from abc import ABCMeta, abstractmethod

import numpy as np

from ..errors import HpcmixError
from . import reconstruct as rc
from .stored import Stored, as_complex, as_reals


class Precision:
    """A number format: ``bytes_per_real`` in storage, ``unit_roundoff`` u (the largest relative error
    of storing one number; for formats with a per-site norm, relative to the site's norm), and
    ``real_dtype``, the real type arithmetic on it runs in."""

    name = ""
    role = "field"          # "field" or "factorization"
    description = ""
    bytes_per_real = 8
    unit_roundoff = 2.0 ** -53
    real_dtype = np.dtype(np.float64)

    @property
    def compute_dtype(self):
        """The complex type fields are computed in (complex64 or complex128)."""
        return np.result_type(self.real_dtype, np.complex64)

    def __repr__(self):
        return f"<precision {self.name}>"


class FieldPrecision(Precision, metaclass=ABCMeta):
    """A storage format for lattice fields and gauge links.

    Subclasses set ``storage_dtype`` (of ``Stored.data``), ``norm_dtype`` (of ``Stored.norm``; None
    where the format keeps no norm) and ``reconstructs``, and implement the four primitives
    :meth:`encode_reals`, :meth:`decode_reals`, :meth:`encode_params`, :meth:`decode_params`.
    """

    storage_dtype = np.dtype(np.float64)
    norm_dtype = None
    reconstructs = rc.RECONSTRUCTS

    @property
    def has_norm(self):
        """Whether a field keeps one norm per site beside its components."""
        return self.norm_dtype is not None

    # ---- the primitives of a storage format -------------------------------------------------------
    @abstractmethod
    def encode_reals(self, r, site_ndim):
        """Store float64 reals ``r`` (first ``site_ndim`` axes are sites): returns ``(data, norm)``,
        ``norm`` None unless the format keeps a norm per site."""

    @abstractmethod
    def decode_reals(self, data, norm, site_ndim):
        """The reals stored by :meth:`encode_reals`, in ``real_dtype``."""

    @abstractmethod
    def encode_params(self, p):
        """Store float64 reals ``p`` known to lie in [-1, 1] (link parameters), without a norm."""

    @abstractmethod
    def decode_params(self, data):
        """The reals stored by :meth:`encode_params`, in ``real_dtype``."""

    # ---- fields -----------------------------------------------------------------------------------
    def encode(self, x, site_ndim=4):
        """Store the complex field ``x``: its first ``site_ndim`` axes are sites ``[t, z, y, x]``, the
        rest are each site's components (a norm, where kept, covers all of them)."""
        x = np.asarray(x)
        if not 0 <= site_ndim <= x.ndim:
            raise ValueError(f"site_ndim {site_ndim} does not fit an array of {x.ndim} axes")
        data, norm = self.encode_reals(as_reals(x), site_ndim)
        return Stored(self, data, norm, site_ndim)

    def decode(self, stored):
        """The field (or links) in ``stored`` as an array of ``compute_dtype``."""
        if stored.reconstruct is not None:
            return self.decode_links(stored)
        return as_complex(self.decode_reals(stored.data, stored.norm, stored.site_ndim))

    def round(self, x, site_ndim=4):
        """decode(encode(x)): the field an operator sees after storing ``x`` in this precision."""
        return self.decode(self.encode(x, site_ndim))

    # ---- gauge links ------------------------------------------------------------------------------
    def check_reconstruct(self, reconstruct):
        if reconstruct not in self.reconstructs:
            raise HpcmixError(f"precision '{self.name}' cannot store links with reconstruct {reconstruct!r}; "
                              f"it supports reconstruct {', '.join(map(str, self.reconstructs))}")

    def su3_tolerance(self):
        """How far from SU(3) links may be for reconstruct 12 and 8: 64 u, at least 1e-6 (links read in
        single precision pass in double)."""
        return max(64 * self.unit_roundoff, 1e-6)

    def encode_links(self, U, reconstruct=18):
        """Store links ``U[..., 3, 3]`` (gauge field ``[t, z, y, x, mu, 3, 3]``) compressed to
        ``reconstruct`` real parameters per link (:mod:`hpcmix.precision.reconstruct`)."""
        self.check_reconstruct(reconstruct)
        U = np.asarray(U)
        if reconstruct != 18:
            deviation = rc.su3_deviation(U)
            if not deviation <= self.su3_tolerance():
                raise HpcmixError(
                    f"reconstruct {reconstruct} needs SU(3) links, but max(|U U^dag - 1|, |det U - 1|) = "
                    f"{deviation:.3g} exceeds {self.su3_tolerance():.3g} for precision '{self.name}'; keep "
                    f"boundary and staggered phases in the operator, reunitarize, or use reconstruct 18")
        return self.store_link_params(rc.pack(U, reconstruct), reconstruct)

    def store_link_params(self, params, reconstruct):
        """Store float64 link parameters ``params[..., reconstruct]``; for reconstruct 8, refuse links
        whose stored N = |V01|^2 + |V02|^2 is below the unit roundoff (see reconstruct.py)."""
        self.check_reconstruct(reconstruct)
        data = self.encode_params(params)
        if reconstruct == 8:
            singular = rc.row_norm8(self.decode_params(data)) < self.unit_roundoff
            if singular.any():
                raise HpcmixError(
                    f"reconstruct 8 is singular or too ill-conditioned for {int(singular.sum())} link(s) in "
                    f"precision '{self.name}' (first row of U F within rounding of a pure phase times "
                    f"(1, 1, 1)/sqrt(3)); use reconstruct 12 or 18")
        return Stored(self, data, None, params.ndim - 1, reconstruct)

    def decode_links(self, stored):
        """Links ``[..., 3, 3]`` of ``compute_dtype`` rebuilt from their stored parameters."""
        return rc.unpack(self.decode_params(stored.data), stored.reconstruct)

    def round_links(self, U, reconstruct=18):
        """decode_links(encode_links(U, reconstruct)): the links an operator sees."""
        return self.decode_links(self.encode_links(U, reconstruct))


def site_max(r, site_ndim):
    """s = max |re|, |im| over each site's components (float64, shape ``r.shape[:site_ndim]``)."""
    return np.abs(r).max(axis=tuple(range(site_ndim, r.ndim)), initial=0.0)


def per_site(a, ndim):
    """A per-site array reshaped to broadcast against an array of ``ndim`` axes."""
    return a.reshape(a.shape + (1,) * (ndim - a.ndim))


def to_precision(x, prec, site_ndim=4):
    """What an operator sees of field ``x`` stored in ``prec``: ``prec.round(x, site_ndim)``."""
    return prec.round(x, site_ndim)


def resolve(registry, name, reconstruct=None):
    """The field precision registered as ``name`` in ``registry`` (a :class:`hpcmix.registry.Registry`),
    checked to store links with ``reconstruct`` where given.

    An unknown name, a precision that is not a field precision, or a reconstruct it cannot do raises
    :class:`HpcmixError` listing what is available.
    """
    fields = [e.name for e in registry.entries("precisions") if getattr(e.obj, "role", "field") == "field"]
    if name not in fields:
        what = "not a field precision" if name in registry.names("precisions") else "unknown precision"
        raise HpcmixError(f"{what} '{name}'; field precisions: {', '.join(fields)}")
    prec = registry.lookup("precisions", name)
    if reconstruct is not None:
        prec.check_reconstruct(reconstruct)
    return prec
