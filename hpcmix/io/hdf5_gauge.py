"""hpcmix's own gauge-field format in HDF5.

Dataset ``/gauge/U``, canonical layout ``[T, Z, Y, X, 4, 3, 3]`` complex128 or complex64, with
attributes (on the dataset or its group) ``format = "hpcmix-gauge"``, ``format_version``,
``lattice = [X, Y, Z, T]``, ``plaquette``, ``link_trace``, ``checksum = [suma, sumb]`` (the SciDAC
CRC32 checksum over each site's stored little-endian bytes, see :mod:`hpcmix.io.checksum`) and
``checksum_algorithm``. Every rank reads and writes only its own hyperslab (writes take turns, since
a pip-installed h5py is serial). Files are written under a temporary name and renamed into place.
"""

import os
from pathlib import Path

import h5py
import numpy as np

from ..comm import collective
from ..errors import FormatError
from ..fields import GaugeField
from .checksum import scidac_sums
from .formats import GaugeFormat
from .links import verify_links
from .sitefile import refuse_existing, write_in_turns
from .warn import warn, warn_unverified

FORMAT = "hpcmix-gauge"
FORMAT_VERSION = 1
DATASET = "gauge/U"


def checksum(links, lattice):
    """Collective SciDAC checksum of the links' little-endian stored bytes."""
    data = np.ascontiguousarray(links.astype(links.dtype.newbyteorder("<"), copy=False))
    return scidac_sums(data.view(np.uint8).reshape(lattice.shape + (-1,)), lattice)


class HDF5GaugeFormat(GaugeFormat):
    name = "hpcmix"
    description = "hpcmix HDF5 gauge field (/gauge/U, [T,Z,Y,X,4,3,3])"
    can_write = True
    keeps_metadata = True

    def sniff(self, path):
        with open(path, "rb") as f:
            if f.read(8) != b"\x89HDF\r\n\x1a\n":
                return False
        with h5py.File(path, "r") as h5:
            return DATASET in h5

    @staticmethod
    def _attrs(h5):
        ds = h5[DATASET]
        attrs = dict(ds.parent.attrs)
        attrs.update(ds.attrs)
        return ds, attrs

    def read_dims(self, path):
        try:
            with h5py.File(path, "r") as h5:
                if DATASET not in h5:
                    raise FormatError(f"no dataset /{DATASET}", file=path)
                ds, attrs = self._attrs(h5)
                if "lattice" in attrs:
                    return [int(x) for x in attrs["lattice"]]
                if ds.ndim != 7:
                    raise FormatError(f"/{DATASET} has shape {ds.shape}, expected [T, Z, Y, X, 4, 3, 3]", file=path)
                return list(ds.shape[:4][::-1])
        except OSError as exc:
            raise FormatError(f"cannot read as HDF5: {exc}", file=path) from None

    def read(self, path, lattice, verify=True):
        def read_local():
            try:
                h5 = h5py.File(path, "r")
            except OSError as exc:
                raise FormatError(f"cannot read as HDF5: {exc}", file=path) from None
            with h5:
                if DATASET not in h5:
                    raise FormatError(f"no dataset /{DATASET}", file=path)
                ds, attrs = self._attrs(h5)
                expected = tuple(lattice.global_shape) + (4, 3, 3)
                if ds.shape != expected:
                    raise FormatError(f"/{DATASET} has shape {ds.shape}, expected {expected} for lattice "
                                      f"{lattice.dims}", file=path)
                if "format" in attrs and str(attrs["format"]) != FORMAT:
                    raise FormatError(f"format attribute is {attrs['format']!r}, expected {FORMAT!r}", file=path)
                if "lattice" in attrs and [int(x) for x in attrs["lattice"]] != list(lattice.dims):
                    raise FormatError(f"lattice attribute {list(attrs['lattice'])} disagrees with the data "
                                      f"shape", file=path)
                if ds.dtype not in (np.complex128, np.complex64):
                    raise FormatError(f"/{DATASET} has type {ds.dtype}, expected complex128 or complex64", file=path)
                stored = np.ascontiguousarray(ds[lattice.box()])
                return stored, attrs, ds.dtype

        stored, attrs, dtype = collective(lattice.pg, read_local, FormatError)
        gauge = GaugeField(lattice, stored.astype(np.complex128), {"file": str(path), "format": self.name})

        def check():
            if "checksum" not in attrs:
                warn(f"{path}: no checksum attribute; data not verified")
                return
            found = checksum(stored, lattice)
            want = tuple(int(x) for x in attrs["checksum"])
            if found != want:
                message = f"checksum mismatch: file says {want[0]:08x} {want[1]:08x}, data gives {found[0]:08x} {found[1]:08x}"
                if verify:
                    raise FormatError(message, file=path)
                warn_unverified(path, message)

        collective(lattice.pg, check, FormatError)
        gauge.metadata["plaquette"] = collective(
            lattice.pg, lambda: verify_links(gauge, path, verify=verify, claims=attrs, stored_dtype=dtype), FormatError)
        return gauge

    def write(self, path, gauge, metadata=None, *, dtype=np.complex128, overwrite=False):
        """Collective write; refuses to replace an existing file unless ``overwrite``."""
        lattice, pg = gauge.lattice, gauge.lattice.pg
        path = Path(path)
        collective(pg, lambda: refuse_existing(path, overwrite) if pg.rank == 0 else None, FormatError)
        stored = np.ascontiguousarray(gauge.U.astype(dtype))
        rounded = GaugeField(lattice, stored.astype(np.complex128))
        attrs = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "lattice": np.array(lattice.dims, dtype=np.int64),
            "plaquette": rounded.plaquette(),
            "link_trace": rounded.link_trace(),
            "checksum": np.array(checksum(stored, lattice), dtype=np.uint32),
            "checksum_algorithm": "scidac-crc32 over little-endian site bytes",
        }
        for k, v in (metadata or {}).items():
            attrs.setdefault(k, v if not isinstance(v, dict) else str(v))
        tmp = pg.bcast(str(path.with_name(f"{path.name}.tmp-{os.getpid()}")))

        def create():
            if pg.rank == 0:
                path.parent.mkdir(parents=True, exist_ok=True)
                with h5py.File(tmp, "w") as h5:
                    ds = h5.create_dataset(DATASET, shape=tuple(lattice.global_shape) + (4, 3, 3), dtype=dtype)
                    for k, v in attrs.items():
                        ds.attrs[k] = v

        def write_box():
            with h5py.File(tmp, "r+") as h5:
                h5[DATASET][lattice.box()] = stored

        write_in_turns(pg, tmp, path, overwrite, create, write_box)
        return attrs
