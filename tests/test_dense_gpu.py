"""The cupy path of the blocked LU (GEMMs on the GPU in the low precision); skipped without a GPU."""

import numpy as np
import pytest

from hpcmix import dense
from hpcmix.dense import formats, gpu
from hpcmix.dense.factorization import LowPrecisionLU

pytestmark = pytest.mark.skipif(not gpu.available(), reason="cupy with a CUDA device is not available")


@pytest.mark.parametrize("prec", [formats.FP32, formats.TF32, formats.BF16, formats.FP16, formats.FP16_SCALED])
def test_gpu_factors_match_the_host_factors(prec):
    A = dense.randsvd(300, 1e3, 3, seed=1)
    host = LowPrecisionLU(A, prec, backend="numpy", block_size=64)
    device = LowPrecisionLU(A, prec, backend="cupy", block_size=64)
    assert host.ok and device.ok
    assert np.mean(host.piv == device.piv) > 0.95
    b = dense.random_rhs(300)
    x_host, x_dev = host.solve64(b), device.solve64(b)
    assert np.abs(x_host - x_dev).max() / np.abs(x_host).max() < 100 * prec.unit_roundoff * 1e3


@pytest.mark.parametrize("prec", ["fp32", "tf32", "bf16", "fp16", "fp16-scaled"])
def test_gpu_solve_converges(prec):
    A = dense.randsvd(256, 1e4, 2, seed=2)
    Ac = dense.randsvd(128, 1e2, 2, seed=3, complex=True)
    for M in (A, Ac):
        b = dense.random_rhs(M.shape[0], nrhs=2)
        res = dense.solve(M, b, prec, "gmres", backend="cupy", block_size=64)
        assert res.code == dense.SUCCESS and res.backward_error <= dense.HPL_THRESHOLD
