"""Dense mixed-precision solves: a low-precision LU plus iterative refinement to float64 accuracy
(LAPACK DSGESV, cuSOLVER IRS, MAGMA; Carson and Higham's GMRES-IR).

    from hpcmix import dense
    result = dense.solve(A, b, factorization="fp16-scaled", refinement="gmres")
    result.x, result.converged, result.code, result.niters, result.backward_error, result.times

    f = dense.DenseFactorization(A, "fp32")   # factor once (the multigrid coarsest level) ...
    f.solve(b1), f.solve(b2)                  # ... solve many times

Factorization precisions: fp64, fp32, tf32, bf16, fp16, fp16-scaled (:mod:`.formats`; plugins add
more through the ``precisions`` hook). Refinement: "classical", "gmres", "classical_gmres"
(:mod:`.refinement`). ``backend=`` a Backend object (the run's ``ctx.backend``; default the numpy backend)
chooses where the LU and the refinement run (:meth:`hpcmix.backends.base.Backend.dense_kernels`: on the GPU for cupy).
Status codes and the result record: :mod:`.result`. Test matrices:
:mod:`.generators`; files: :mod:`.matrix_io`; HPL-MxP's accuracy rule: :func:`hpl_mxp_ratio`.
"""

from .formats import FactorizationPrecision
from .generators import badly_scaled, hpl_mxp, random_rhs, randsvd
from .matrix_io import load_matrix, load_rhs
from .norms import HPL_THRESHOLD, hpl_mxp_ratio
from .result import (CONVERSION_OVERFLOW, FACTORIZATION_FAILURE, NO_CONVERGENCE, REFINEMENT_OVERFLOW, SUCCESS,
                     DenseResult, SingularMatrixError)
from .solver import DenseFactorization, solve

__all__ = ["solve", "DenseFactorization", "DenseResult", "FactorizationPrecision", "SingularMatrixError",
           "SUCCESS", "CONVERSION_OVERFLOW", "FACTORIZATION_FAILURE", "REFINEMENT_OVERFLOW", "NO_CONVERGENCE",
           "randsvd", "hpl_mxp", "badly_scaled", "random_rhs", "load_matrix", "load_rhs", "hpl_mxp_ratio",
           "HPL_THRESHOLD"]
