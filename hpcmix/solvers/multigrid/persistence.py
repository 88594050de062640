"""A multigrid setup in HDF5: written after it is built (``setup = {save = ...}``) and read back instead of
building it (``load``).

Layout (attribute ``format = "hpcmix-multigrid-setup"``, ``format_version`` 1): for each coarsening i (finest
first) a group ``/level<i>`` of complex128 datasets over the coarse lattice of level i + 1 in its global
canonical layout ``[Tc, Zc, Yc, Xc, ...]`` (a coarse site is a block, which never straddles ranks, so a file
written on one process grid reads on any other whose local extents the blocks divide):

- ``basis [.., 2, n_vec, block_dofs]``: P's block-orthonormal basis (:attr:`~.transfer.Transfer.basis`:
  chirality, vector, then the block's sites t, z, y, x and the site's half of the dofs);
- ``X [.., N, N]`` and ``Y [.., 4, 2, N, N]``: the coarse operator's site term and hopping matrices Y_mu^+,
  Y_mu^- (N = 2 n_vec), in double.

Every dataset carries ``checksum``: the SciDAC pair over its coarse sites' little-endian bytes (as the gauge
format's, :func:`hpcmix.io.hdf5_gauge.checksum`), which each rank computes on its own sites. The root holds
``lattice`` (the fine [X, Y, Z, T]), ``parameters`` (JSON: the deck keys that determine the setup) and
``operator`` (JSON, :func:`operator_identity`), and for the record ``hpcmix_version``, ``origin`` (built,
refreshed, or loaded and saved again), ``setup_seconds`` and ``stats`` (JSON: each level's setup figures). Ranks
write their hyperslabs in turn under a temporary name that is renamed into place at the end.
"""

import json
import os
import time
from pathlib import Path

import h5py
import numpy as np

from ... import __version__
from ...comm import collective
from ...errors import FormatError
from ...io.checksum import compare
from ...io.hdf5_gauge import checksum
from ...io.sitefile import refuse_existing, write_in_turns
from .nullspace import random_vector

FORMAT = "hpcmix-multigrid-setup"
FORMAT_VERSION = 1
#: The fixed random vector of the operator's fingerprint, and how closely two fingerprints must agree (relative to
#: their largest entry).
FINGERPRINT_SEED = [7, 2026, 12]
FINGERPRINT_RTOL = 1e-10


def operator_identity(finest):
    """What the setup was made for: the fine Dirac operator's ``kappa``, ``csw`` and ``boundary`` phases ([re, im]
    each), and its ``fingerprint`` [|A v|^2, Re <v, A v>, Im <v, A v>] / |v|^2 for a fixed random v, which tells
    gauge fields apart (the deck keys alone do not) and agrees across process grids to rounding. ``finest``: a
    :class:`~.levels.WilsonLevel`."""
    lat, dirac = finest.lattice, finest.fields.dirac
    v = random_vector(lat, finest.dofs, FINGERPRINT_SEED)
    av = finest.to_array(finest.operator(finest.from_array(v)))
    norm, inner = lat.norm2(v), lat.inner(v, av)
    return {"kappa": float(dirac.kappa), "csw": float(dirac.csw),
            "boundary": [[complex(b).real, complex(b).imag] for b in dirac.boundary],
            "fingerprint": [lat.norm2(av) / norm, inner.real / norm, inner.imag / norm]}


def operator_change(here, there):
    """None where the identities ``here`` and ``there`` are the same operator, else what differs, in words."""
    for key in ("kappa", "csw", "boundary"):
        if here[key] != there[key]:
            return f"{key} {there[key]} there, {here[key]} here"
    a, b = np.array(here["fingerprint"]), np.array(there["fingerprint"])
    if np.abs(a - b).max() > FINGERPRINT_RTOL * np.abs(b).max():
        return "another gauge field: the operator's fingerprint differs"
    return None


def _site_major(coarse):
    """The coarse operator's arrays as saved: X and Y stacked ``[Tc, Zc, Yc, Xc, 4, 2, N, N]``."""
    return coarse.X, np.stack([np.stack(pair, axis=4) for pair in coarse.Y], axis=4)


def write_setup(path, hierarchy, parameters, identity, replace=False):
    """Collective: write ``hierarchy`` with its ``parameters`` and operator ``identity`` to ``path`` (module doc),
    never over an existing file unless ``replace``. Returns the seconds it took."""
    t0 = time.perf_counter()
    path = Path(path)
    pg = hierarchy.finest.lattice.pg
    collective(pg, lambda: refuse_existing(path, replace) if pg.rank == 0 else None, FormatError)
    data = {}
    for i, level in enumerate(hierarchy.levels):
        X, Y = _site_major(level.coarse)
        for name, local in (("basis", level.transfer.basis), ("X", X), ("Y", Y)):
            data[f"level{i}/{name}"] = (level.coarse.lattice, np.ascontiguousarray(local, dtype=np.complex128))
    sums = {name: checksum(local, lat) for name, (lat, local) in data.items()}
    tmp = pg.bcast(str(path.with_name(f"{path.name}.tmp-{os.getpid()}")))

    def create():
        if pg.rank == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            with h5py.File(tmp, "w") as h5:
                h5.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION,
                                 "lattice": np.array(hierarchy.finest.lattice.dims, dtype=np.int64),
                                 "parameters": json.dumps(parameters), "operator": json.dumps(identity),
                                 "hpcmix_version": __version__, "origin": hierarchy.origin,
                                 "setup_seconds": hierarchy.setup_seconds,
                                 "stats": json.dumps([level.stats for level in hierarchy.levels])})
                for name, (lat, local) in data.items():
                    ds = h5.create_dataset(name, shape=lat.global_shape + local.shape[4:], dtype=np.complex128)
                    ds.attrs["checksum"] = np.array(sums[name], dtype=np.uint32)

    def write_boxes():
        with h5py.File(tmp, "r+") as h5:
            for name, (lat, local) in data.items():
                h5[name][lat.box()] = local

    write_in_turns(pg, tmp, path, replace, create, write_boxes)
    return time.perf_counter() - t0


def _open(path):
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise FormatError(f"cannot read as HDF5: {exc}", file=path) from None


class SavedSetup:
    """A setup file, to be read on ``lattice`` (the fine one): its ``lattice`` dims, ``parameters`` and ``operator``
    identity, read collectively at once; :meth:`basis` and :meth:`coarse` read a level's arrays (this rank's part,
    checksum verified)."""

    def __init__(self, path, lattice):
        self.path, self.pg = Path(path), lattice.pg

        def header():
            with _open(self.path) as h5:
                attrs = dict(h5.attrs)
                if str(attrs.get("format")) != FORMAT or int(attrs.get("format_version", -1)) != FORMAT_VERSION:
                    raise FormatError(f"not a multigrid setup (format {attrs.get('format')!r} version "
                                      f"{attrs.get('format_version')!r}; expected {FORMAT!r} {FORMAT_VERSION})",
                                      file=self.path)
                return ([int(d) for d in attrs["lattice"]], json.loads(attrs["parameters"]),
                        json.loads(attrs["operator"]))

        self.lattice, self.parameters, self.operator = collective(self.pg, header, FormatError)

    def basis(self, index, blocking, n_vec):
        """This rank's part of level ``index``'s block basis (``blocking``: its Blocking)."""
        return self._read(f"level{index}/basis", blocking.coarse_lattice, (2, n_vec, blocking.block_dofs))

    def coarse(self, index, lattice, n):
        """(X, Y) of level ``index``'s coarse operator on ``lattice`` (the coarse one; N = ``n``), as
        :class:`~.coarse.CoarseOperator` takes them."""
        X = self._read(f"level{index}/X", lattice, (n, n))
        Y = self._read(f"level{index}/Y", lattice, (4, 2, n, n))
        return X, [[Y[..., mu, i, :, :] for i in range(2)] for mu in range(4)]

    def _read(self, name, lattice, inner):
        def read_local():
            with _open(self.path) as h5:
                if name not in h5 or not isinstance(h5[name], h5py.Dataset):
                    raise FormatError(f"no dataset /{name}", file=self.path)
                ds = h5[name]
                expected = lattice.global_shape + tuple(inner)
                if ds.shape != expected or ds.dtype != np.complex128 or "checksum" not in ds.attrs:
                    raise FormatError(f"/{name} has shape {ds.shape} and type {ds.dtype} (attributes "
                                      f"{sorted(ds.attrs)}), expected {expected} complex128 with a checksum",
                                      file=self.path)
                return np.ascontiguousarray(ds[lattice.box()]), [int(w) for w in ds.attrs["checksum"]]

        local, claimed = collective(self.pg, read_local, FormatError)
        compare(self.path, f"/{name}: checksum", claimed, checksum(local, lattice), verify=True)
        return local
