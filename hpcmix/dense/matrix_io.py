"""Dense matrices and right-hand sides from files: HDF5 (a named dataset), MatrixMarket, NumPy .npy.

The format follows the suffix: .h5/.hdf5/.hdf (``dataset`` names the array; it may be omitted where
the file holds exactly one dataset), .mtx/.mm (coordinate or array MatrixMarket, real or complex;
sparse storage is expanded), .npy. What is read must be a real or complex array without NaN or Inf;
anything else is a :class:`~hpcmix.errors.FormatError` that names the file and dataset.
"""

from pathlib import Path

import numpy as np

from ..errors import FormatError

HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")
MM_SUFFIXES = (".mtx", ".mm")


def describe(path, dataset=None):
    return f"{path}:{dataset}" if dataset else str(path)


def _hdf5(path, dataset, read):
    """``read(d)`` of the HDF5 dataset ``dataset`` of ``path`` (the only one where None)."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            if dataset is None:
                found = []
                f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
                if len(found) != 1:
                    raise FormatError(f"holds {len(found)} datasets ({', '.join(found[:5])}); name one with "
                                      "dataset = \"...\"", file=path)
                dataset = found[0]
            if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
                raise FormatError(f"no dataset '{dataset}'", file=path)
            return read(f[dataset])
    except OSError as exc:
        raise FormatError(f"cannot read as HDF5: {exc}", file=path) from None


def _checked_suffix(path, dataset):
    """The lower-case suffix of an existing ``path`` that ``dataset`` may go with; FormatError otherwise."""
    where = describe(path, dataset)
    if not path.is_file():
        raise FormatError("no such file", file=where)
    suffix = path.suffix.lower()
    if dataset is not None and suffix not in HDF5_SUFFIXES:
        raise FormatError("'dataset' applies to HDF5 files only", file=where)
    if suffix not in HDF5_SUFFIXES + MM_SUFFIXES + (".npy",):
        raise FormatError(f"unknown matrix file type '{suffix}' (HDF5 {', '.join(HDF5_SUFFIXES)}; "
                          f"MatrixMarket {', '.join(MM_SUFFIXES)}; NumPy .npy)", file=where)
    return suffix


def array_shape(path, dataset=None):
    """The shape of the array in ``path`` from its header alone (no data read): what a deck check
    needs to know before any work. FormatError where the file cannot hold a numeric array."""
    path = Path(path)
    suffix = _checked_suffix(path, dataset)
    where = describe(path, dataset)
    if suffix in HDF5_SUFFIXES:
        shape, kind = _hdf5(path, dataset, lambda d: (d.shape, d.dtype.kind))
        if kind not in "iufc":
            raise FormatError(f"holds data of kind '{kind}', not real or complex numbers", file=where)
        return tuple(shape)
    if suffix in MM_SUFFIXES:
        import scipy.io
        try:
            rows, cols, *_ = scipy.io.mminfo(str(path))
        except (ValueError, OSError) as exc:
            raise FormatError(f"cannot read as MatrixMarket: {exc}", file=where) from None
        return (rows, cols)
    try:
        return tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)
    except (ValueError, OSError) as exc:
        raise FormatError(f"cannot read as .npy: {exc}", file=where) from None


def _read_matrix_market(path):
    import scipy.io
    import scipy.sparse
    try:
        M = scipy.io.mmread(str(path))
    except (ValueError, OSError) as exc:
        raise FormatError(f"cannot read as MatrixMarket: {exc}", file=path) from None
    return M.toarray() if scipy.sparse.issparse(M) else np.asarray(M)


def read_array(path, dataset=None):
    """The array stored in ``path`` (and ``dataset`` for HDF5), as float64 or complex128."""
    path = Path(path)
    where = describe(path, dataset)
    suffix = _checked_suffix(path, dataset)
    if suffix in HDF5_SUFFIXES:
        data = _hdf5(path, dataset, lambda d: d[()])
    elif suffix in MM_SUFFIXES:
        data = _read_matrix_market(path)
    else:
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise FormatError(f"cannot read as .npy: {exc}", file=where) from None
    data = np.asarray(data)
    if data.dtype.kind not in "iufc":
        raise FormatError(f"holds {data.dtype} data, not real or complex numbers", file=where)
    data = data.astype(np.complex128 if data.dtype.kind == "c" else np.float64)
    bad = ~np.isfinite(data)
    if bad.any():
        first = ", ".join(str(int(i)) for i in np.argwhere(bad)[0])
        raise FormatError(f"contains {int(bad.sum())} NaN or Inf entries (first at [{first}])", file=where)
    return data


def check_matrix_shape(shape, where):
    """The order n of a non-empty square matrix of ``shape``; FormatError otherwise."""
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] == 0:
        raise FormatError(f"holds an array of shape {tuple(shape)}, not a non-empty square matrix", file=where)
    return shape[0]


def check_rhs_shape(shape, n, where):
    """FormatError unless ``shape`` is that of right-hand sides of an n x n system: (n,) or (n, k)."""
    if len(shape) not in (1, 2) or shape[0] != n or (len(shape) == 2 and shape[1] == 0):
        raise FormatError(f"holds an array of shape {tuple(shape)}; the right-hand side of an {n} x {n} system "
                          f"needs ({n},) or ({n}, k)", file=where)


def load_matrix(path, dataset=None):
    """A square matrix from a file (see the module doc)."""
    A = read_array(path, dataset)
    check_matrix_shape(A.shape, describe(path, dataset))
    return A


def load_rhs(path, dataset, n):
    """Right-hand sides for an n x n system: shape (n,) or (n, k)."""
    B = read_array(path, dataset)
    if B.ndim == 2 and B.shape[1] == 1:
        B = B[:, 0]
    check_rhs_shape(B.shape, n, describe(path, dataset))
    return B
