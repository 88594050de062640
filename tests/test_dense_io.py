"""Matrices and right-hand sides from HDF5, MatrixMarket and .npy files, and their errors."""

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse

from hpcmix.dense import load_matrix, load_rhs
from hpcmix.errors import FormatError


@pytest.fixture
def A():
    return np.random.default_rng(0).standard_normal((6, 6))


def test_hdf5_real_complex_and_single_dataset(tmp_path, A):
    path = tmp_path / "A.h5"
    with h5py.File(path, "w") as f:
        f["A"] = A
        f["group/Z"] = A + 1j * A.T
        f["b"] = A[:, 0]
    np.testing.assert_array_equal(load_matrix(path, "A"), A)
    Z = load_matrix(path, "group/Z")
    assert Z.dtype == np.complex128 and np.array_equal(Z, A + 1j * A.T)
    np.testing.assert_array_equal(load_rhs(path, "b", 6), A[:, 0])
    with pytest.raises(FormatError, match="holds 3 datasets"):
        load_matrix(path)
    one = tmp_path / "one.hdf5"
    with h5py.File(one, "w") as f:
        f["M"] = A.astype(np.float32)
    assert load_matrix(one).dtype == np.float64


def test_hdf5_errors_name_the_file_and_dataset(tmp_path, A):
    path = tmp_path / "bad.h5"
    bad = A.copy()
    bad[2, 3] = np.nan
    with h5py.File(path, "w") as f:
        f["A"] = bad
        f["rect"] = A[:, :4]
        f["text"] = np.array([b"a", b"b"])
        f.create_group("g")
    with pytest.raises(FormatError, match=r"bad\.h5:A: contains 1 NaN or Inf entries \(first at \[2, 3\]\)"):
        load_matrix(path, "A")
    with pytest.raises(FormatError, match="not a non-empty square matrix"):
        load_matrix(path, "rect")
    with pytest.raises(FormatError, match="not real or complex"):
        load_matrix(path, "text")
    with pytest.raises(FormatError, match="no dataset 'missing'"):
        load_matrix(path, "missing")
    with pytest.raises(FormatError, match="no dataset 'g'"):
        load_matrix(path, "g")
    with pytest.raises(FormatError, match="right-hand side of an 5 x 5"):
        load_rhs(path, "rect", 5)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(FormatError, match="cannot read as HDF5"):
        load_matrix(tmp_path / "junk.h5", "A")
    with pytest.raises(FormatError, match="no such file"):
        load_matrix(tmp_path / "absent.h5", "A")


def test_matrix_market_and_npy(tmp_path, A):
    dense_path = tmp_path / "A.mtx"
    scipy.io.mmwrite(str(dense_path), A)
    np.testing.assert_allclose(load_matrix(dense_path), A, rtol=1e-15)
    S = scipy.sparse.random(8, 8, density=0.4, random_state=1, format="coo") + scipy.sparse.eye(8)
    sparse_path = tmp_path / "S.mtx"
    scipy.io.mmwrite(str(sparse_path), S)
    np.testing.assert_allclose(load_matrix(sparse_path), S.toarray(), rtol=1e-15)
    with pytest.raises(FormatError, match="HDF5 files only"):
        load_matrix(sparse_path, "A")
    (tmp_path / "bad.mtx").write_text("%%MatrixMarket nonsense\n")
    with pytest.raises(FormatError, match="MatrixMarket"):
        load_matrix(tmp_path / "bad.mtx")
    np.save(tmp_path / "B.npy", A[:, :2])
    assert load_rhs(tmp_path / "B.npy", None, 6).shape == (6, 2)
    np.save(tmp_path / "b.npy", A[:, :1])
    assert load_rhs(tmp_path / "b.npy", None, 6).shape == (6,)
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(FormatError, match="cannot read as .npy"):
        load_matrix(tmp_path / "bad.npy")
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(FormatError, match="unknown matrix file type"):
        load_matrix(tmp_path / "x.csv")
