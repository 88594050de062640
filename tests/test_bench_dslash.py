"""The dslash benchmark runs end to end at 4^4, and its CSR matrix is the Wilson(-clover) operator:
A @ x equals WilsonDirac.M(x) and A is gamma5-Hermitian, (G5 A G5)^H = A, on strong random fields
with complex boundary phases and an asymmetric lattice."""

import importlib.util
import json

import numpy as np
import pytest
import scipy.sparse as sp

from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.gamma import GAMMA5
from hpcmix.operators.wilson import WilsonDirac

from lattice_helpers import random_spinor
from mpi_helpers import benchmark

BACKENDS = "numpy,numba" if importlib.util.find_spec("numba") is not None else "numpy"
FIELDS = ["backend", "operator", "precision", "reconstruct", "sites_per_second", "gflops", "bytes_per_site",
          "gbytes_per_second", "stream_fraction", "threads"]


def load():
    return benchmark("dslash")


def test_runs_at_size_4(capsys, tmp_path):
    """Every operator x precision x reconstruct is measured, with the issue's byte counts (single
    reconstruct 18: 1440 bytes per site, half reconstruct 12: 660; asqtad half: 848), next to CSR; on the
    numpy backend (the numba kernels, which would all compile once more for this layout, are held to the
    reference in test_backend_kernels.py; the benchmark times every backend through the same code)."""
    path = tmp_path / "dslash.json"
    argv = ["--size", "4", "--repeat", "1", "--backends", "numpy", "--precisions", "double,half", "--json", str(path)]
    assert load().main(argv) == 0
    out = capsys.readouterr().out
    assert f"`hpcmix bench dslash {' '.join(argv)}`" in out
    figures = json.loads(path.read_text())
    assert figures["stream_copy_gbytes_per_second"] > 0 and figures["csr_error"] <= 1e-12
    assert figures["csr_nnz"] == 648 * 4 ** 4
    records = figures["kernels"]
    assert all(set(FIELDS) <= set(r) and r["sites_per_second"] > 0 for r in records)
    keys = {(r["backend"], r["operator"], r["precision"], r["reconstruct"]) for r in records}
    for backend in ("numpy",):
        for op in ("wilson", "wilson_clover"):
            for precision in ("double", "half"):
                assert {(backend, op, precision, r) for r in (18, 12, 8)} <= keys
        assert {(backend, "asqtad", precision, 18) for precision in ("double", "half")} <= keys
    assert ("scipy", "wilson_clover", "double", 18) in keys
    by = {(r["backend"], r["operator"], r["precision"], r["reconstruct"]): r for r in records}
    assert by["numpy", "wilson", "half", 12]["bytes_per_site"] == 660
    assert by["numpy", "wilson", "double", 18]["bytes_per_site"] == 2880
    assert by["numpy", "asqtad", "half", 18]["bytes_per_site"] == 848
    assert by["numpy", "asqtad", "double", 18]["bytes_per_site"] == 16 * (6 + 18) * 8 + 6 * 8
    hop = by["numpy", "wilson", "double", 18]
    assert hop["gflops"] == pytest.approx(1320 * hop["sites_per_second"] / 1e9)


@pytest.mark.parametrize("dims, csw, boundary, per_site", [
    ([4, 4, 4, 6], 1.3, (1, 1, np.exp(0.4j), -1), 648),
    ([4, 6, 4, 4], 0.0, (1, 1, 1, 1), 8 * 72 + 12),
])
def test_csr_is_the_wilson_operator(dims, csw, boundary, per_site):
    lattice = Lattice(dims)
    dirac = WilsonDirac(GaugeField.random(lattice, seed=5), -0.2, boundary, csw=csw)
    matrix = load().wilson_csr(dirac)
    assert matrix.nnz == per_site * lattice.volume
    for seed in (1, 2):
        x = random_spinor(lattice, seed)
        want = dirac.M(x).ravel()
        assert np.linalg.norm(matrix @ x.ravel() - want) <= 1e-12 * np.linalg.norm(want)
    g5 = sp.diags_array(np.tile(np.repeat(np.diag(GAMMA5).real, 3), lattice.volume))
    assert abs((g5 @ matrix @ g5).conj().T - matrix).max() <= 1e-14 * abs(matrix).max()
