"""Eigenvectors written by an eigensolve stage, read back for deflation.

The dataset (``/<stage>/vectors`` of a results file) holds n fields in the canonical layout
``[n, T, Z, Y, X, *site]`` complex128, zero on odd sites, with attributes ``operator`` (the operator's
deck table as JSON) and ``crc32`` (zlib's CRC32 of the whole array's bytes in C order); its group holds
the stage's ``eigenvalues``, ``tol`` and ``precision``. Every rank reads only its own hyperslab of each
vector; the CRC32 is computed by streaming the vectors in order.
"""

import json
import zlib

import h5py
import numpy as np

from ..comm import collective
from ..errors import FormatError


def _open(path, dataset):
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise FormatError(f"cannot read as HDF5: {exc}", file=path) from None
    if dataset not in h5 or not isinstance(h5[dataset], h5py.Dataset):
        h5.close()
        raise FormatError(f"no dataset /{dataset.lstrip('/')}", file=path)
    return h5


def eigenvector_info(path, dataset):
    """(shape, operator table, attributes of the dataset's group) of the saved eigenvectors; a file that
    is not such a dataset is a FormatError naming it."""
    with _open(path, dataset) as h5:
        ds = h5[dataset]
        if "operator" not in ds.attrs or ds.ndim < 6 or ds.dtype != np.complex128:
            raise FormatError(f"/{dataset.lstrip('/')} is not a set of eigenvectors written by an eigensolve stage "
                              f"(shape {ds.shape}, type {ds.dtype}, attributes {sorted(ds.attrs)})", file=path)
        return ds.shape, json.loads(ds.attrs["operator"]), dict(ds.parent.attrs)


def read_eigenvectors(path, dataset, lattice):
    """Collective: this rank's part ``[n, t, z, y, x, *site]`` of the saved eigenvectors, the CRC32
    verified (a mismatch is a FormatError on every rank)."""
    def read_local():
        with _open(path, dataset) as h5:
            ds = h5[dataset]
            if tuple(ds.shape[1:5]) != tuple(lattice.global_shape):
                raise FormatError(f"/{dataset.lstrip('/')} holds vectors of lattice {list(ds.shape[1:5][::-1])}, "
                                  f"the deck's is {list(lattice.dims)}", file=path)
            box = (slice(None),) + lattice.box()
            local = np.ascontiguousarray(ds[box])
            crc = None
            if lattice.pg.rank == 0:
                crc = 0
                for i in range(ds.shape[0]):
                    crc = zlib.crc32(np.ascontiguousarray(ds[i]).tobytes(), crc)
                if "crc32" in ds.attrs and crc != int(ds.attrs["crc32"]):
                    raise FormatError(f"/{dataset.lstrip('/')}: CRC32 mismatch (file says {int(ds.attrs['crc32']):08x}, "
                                      f"data gives {crc:08x})", file=path)
            return local

    return collective(lattice.pg, read_local, FormatError)
