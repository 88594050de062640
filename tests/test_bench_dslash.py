"""The dslash benchmark runs end to end at 4^4, and its CSR matrix is the Wilson(-clover) operator:
A @ x equals WilsonDirac.M(x) and A is gamma5-Hermitian, (G5 A G5)^H = A, on strong random fields
with complex boundary phases and an asymmetric lattice."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from hpcmix.fields import GaugeField
from hpcmix.lattice import Lattice
from hpcmix.operators.gamma import GAMMA5
from hpcmix.operators.wilson import WilsonDirac

from lattice_helpers import random_spinor

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_dslash.py"
DOUBLE_KERNELS = ["STREAM copy", "STREAM triad", "Wilson dslash D_w", "clover M", "scipy CSR A @ x",
                  "asqtad dslash D"]


def load():
    spec = importlib.util.spec_from_file_location("bench_dslash", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_at_size_4(capsys, tmp_path):
    path = tmp_path / "dslash.json"
    assert load().main(["--size", "4", "--repeat", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "`hpcmix bench dslash --size 4 --repeat 1 --json" in out
    assert "| Wilson dslash D_w | complex128 |" in out and "| asqtad dslash D | complex128 |" in out
    figures = json.loads(path.read_text())
    kernels = {(k["kernel"], k["precision"]): k for k in figures["kernels"]}
    single = {name for name, precision in kernels if precision == "complex64"}
    assert [k["kernel"] for k in figures["kernels"] if k["precision"] != "complex64"] == DOUBLE_KERNELS
    assert single == ({"Wilson dslash D_w", "clover M"} if figures["single_precision"] == "measured" else set())
    assert figures["csr_error"] <= 1e-12 and figures["csr_nnz"] == 648 * 4 ** 4
    assert all(k["ms"] > 0 and k["gbs"] > 0 for k in figures["kernels"])
    clover = kernels["clover M", "complex128"]
    assert clover["gflops"] == pytest.approx(1872 * 4 ** 4 / clover["ms"] / 1e6)


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
