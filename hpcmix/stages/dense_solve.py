"""The ``dense_solve`` stage: solve a dense system A X = B to float64 accuracy with a low-precision LU
and iterative refinement (:mod:`hpcmix.dense`).

Deck example::

    [[stage]]
    name = "dense"
    kind = "dense_solve"
    matrix = { generator = "randsvd", n = 1024, cond = 1e6, mode = 3, seed = 1 }   # or { file = "A.h5", dataset = "A" }
    rhs = { generator = "random", nrhs = 1, seed = 0 }                            # the default
    factorization = "fp32"
    refinement = "classical"

The LU runs on the run's backend (``[run] backend``, :meth:`hpcmix.backends.base.Backend.dense_kernels`: on
``cupy`` with a GPU the factorization is on the device, its GEMMs on tensor cores); the stage has no backend
key of its own. Rank 0 builds the system and solves it; the result (or the error) is broadcast, so every rank
returns the same :class:`~hpcmix.dense.DenseResult` (or raises the same error). Written under
``/<stage name>``: dataset ``x`` (where a solution exists), dataset ``history`` and the report as
attributes (``niters``, ``backward_error`` = HPL-MxP's scaled residual, ``fell_back``, ``code``,
``seconds``, ``factorization_seconds``, ``solve_seconds``, ...; the pipeline later sets ``seconds``
to the whole stage's wall time, matrix generation included, and ``solve_seconds`` keeps the solve's).
"""

import math
import pickle
from pathlib import Path

import numpy as np
from mpi4py import MPI

from ..backends import blas_threads
from ..dense import DenseFactorization, formats, generators, matrix_io
from ..dense.refinement import METHODS
from ..dense.solver import INNER_TOL, MAX_INNER, MAX_ITERS
from ..errors import DeckError, FormatError, HpcmixError, SolverError
from ..params import REQUIRED, Param, PathParam, Validator
from .base import Stage


def _positive(v):
    return None if v > 0 else "must be positive"


def _at_least_one(v):
    return None if v >= 1 else "must be >= 1"


_COMMON = {
    "seed": Param(int, 0, "random seed, >= 0", check=lambda v: None if v >= 0 else "must be >= 0"),
    "complex": Param(bool, False, "complex entries"),
    "scale": Param(float, 1.0, "factor applied to every entry",
                   check=lambda v: None if math.isfinite(v) and v != 0 else "must be finite and non-zero"),
}
_N = Param(int, REQUIRED, "order of the matrix", check=_at_least_one)
_COND = Param(float, 1e3, "2-norm condition number", check=lambda v: None if v >= 1 else "must be >= 1")
_MODE = Param(int, 3, "LAPACK DLATM1 singular-value mode", choices=generators.MODES)


def _generator(name):
    return {"generator": Param(str, REQUIRED, f"{name!r}")}


#: Declared keys of each ``matrix`` table kind (the table's ``generator`` or ``file`` key picks it).
MATRIX_SOURCES = {
    "file": {"file": Param(PathParam(must_exist=False), REQUIRED, "HDF5 (.h5), MatrixMarket (.mtx) or .npy file"),
             "dataset": Param(str, None, "HDF5 dataset (may be omitted where the file holds one)")},
    "randsvd": {**_generator("randsvd"), "n": _N, "cond": _COND, "mode": _MODE, **_COMMON},
    "hpl_mxp": {**_generator("hpl_mxp"), "n": _N, **_COMMON},
    "badly_scaled": {**_generator("badly_scaled"), "n": _N, "cond": _COND, "mode": _MODE,
                     "decades": Param(float, 2.0, "row and column scales 10^u, u uniform in [-decades, decades]",
                                      check=lambda v: None if 0 <= v <= 100 else "must lie in [0, 100]"),
                     **_COMMON},
}
#: Declared keys of each ``rhs`` table kind.
RHS_SOURCES = {
    "file": MATRIX_SOURCES["file"],
    "random": {**_generator("random"), "nrhs": Param(int, 1, "number of right-hand sides", check=_at_least_one),
               **_COMMON},
}


def _source(validator, table, sources, *, stage, key):
    """Validate a ``matrix``/``rhs`` table; returns it normalized with ``kind`` set."""
    if "file" in table and "generator" in table:
        raise validator.error("give either 'file' or 'generator', not both", stage, key)
    kind = "file" if "file" in table else table.get("generator")
    if kind is not None and not isinstance(kind, str):
        raise validator.error(f"expected a string, got {type(kind).__name__} {kind!r}", stage, f"{key}.generator")
    if kind is None:
        raise validator.error(f"needs 'file' or 'generator' (one of {', '.join(s for s in sources if s != 'file')})",
                              stage, key)
    if kind not in sources:
        raise validator.error(f"unknown generator {kind!r}; one of {', '.join(s for s in sources if s != 'file')}",
                              stage, f"{key}.generator")
    out = validator.table(sources[kind], table, stage=stage, prefix=f"{key}.")
    out.pop("generator", None)
    out["kind"] = kind
    return out


class DenseSolveStage(Stage):
    name = "dense_solve"
    description = "dense A X = B to float64 accuracy: low-precision LU + iterative refinement (DSGESV/cuSOLVER IRS)"
    produces = "dense_solution"
    needs_lattice = False
    params = {
        "matrix": Param(dict, REQUIRED, "the matrix: {file = PATH, dataset = NAME} or {generator = randsvd | "
                        "hpl_mxp | badly_scaled, n = ..., cond, mode, seed, complex, scale, decades}"),
        "rhs": Param(dict, {}, "right-hand sides: {file = PATH, dataset = NAME} or {generator = \"random\", "
                     "nrhs, seed, complex, scale}; default: one seeded random vector"),
        "factorization": Param(str, "fp32", "factorization precision (a registered factorization precision: "
                               + ", ".join(formats.names()) + ")"),
        "refinement": Param(str, "classical", "refinement solver", choices=METHODS),
        "tol": Param(float, None, "converged when ||b - A x||_inf <= tol ||A||_inf ||x||_inf for every "
                     "column; default max(sqrt(n), 2) eps (LAPACK DSGESV's sqrt(n) eps, which n = 1 cannot meet)", check=_positive),
        "max_iters": Param(int, MAX_ITERS, "most refinement iterations (classical: LU solves; GMRES: inner steps)",
                           check=lambda v: None if v >= 0 else "must be >= 0"),
        "max_inner": Param(int, MAX_INNER, "most GMRES steps per outer step", check=_at_least_one),
        "inner_tol": Param(float, INNER_TOL, "GMRES stops when its preconditioned residual falls by this factor",
                           check=_positive),
        "fallback": Param(bool, True, "solve with the float64 LU where the refinement fails"),
        "block_size": Param(int, 256, "block size of the low-precision LU", check=_at_least_one),
    }

    @staticmethod
    def validate_config(cfg, registry):
        """Check the free tables and the precision name; returns (key, message) or None."""
        try:
            DenseSolveStage.normalize(cfg, Validator(registry), stage=None)
        except DeckError as exc:
            return exc.key, exc.reason
        return None

    @classmethod
    def check_inputs(cls, cfg, validator, stage):
        """Before any work: the matrix and right-hand-side files exist and their headers hold a square
        matrix and fitting right-hand sides (whether the system fits in memory: :mod:`hpcmix.memory`)."""
        cfg = cls.normalize(cfg, validator, stage)
        spec = cfg["matrix"]
        if spec["kind"] == "file":
            path, dataset = cls._file(spec, validator, stage, "matrix")
            n = cls._header(lambda: matrix_io.check_matrix_shape(matrix_io.array_shape(path, dataset),
                                                                 matrix_io.describe(path, dataset)),
                            validator, stage, "matrix")
        else:
            n = spec["n"]
        rhs = cfg["rhs"]
        if rhs["kind"] == "file":
            path, dataset = cls._file(rhs, validator, stage, "rhs")
            cls._header(lambda: matrix_io.check_rhs_shape(matrix_io.array_shape(path, dataset), n,
                                                          matrix_io.describe(path, dataset)),
                        validator, stage, "rhs")

    @classmethod
    def memory(cls, cfg, local_dims, registry):
        """Every rank keeps the solution (n x nrhs numbers); rank 0 alone holds the system
        (:meth:`memory_rank0`)."""
        n, nrhs, item = cls._system(cfg, registry)
        return 0, n * nrhs * item

    @classmethod
    def memory_rank0(cls, cfg, dims, local_dims, registry):
        """Rank 0 builds and solves the system: the matrix, its low-precision and float64 factors and work
        space (6 n^2 numbers), the right-hand sides, solutions, residuals and corrections (4 n nrhs)."""
        n, nrhs, item = cls._system(cfg, registry)
        return (6 * n * n + 4 * n * nrhs) * item

    @classmethod
    def memory_key(cls, cfg, registry):
        """The key a refusal for memory names: the right-hand sides where they take most, else the matrix."""
        n, nrhs, _ = cls._system(cfg, registry)
        kind = cls.normalize(cfg, Validator(registry), stage=None)["matrix"]["kind"]
        return "rhs.nrhs" if 4 * nrhs > 6 * n else "matrix.file" if kind == "file" else "matrix.n"

    @classmethod
    def _system(cls, cfg, registry):
        """(order n, right-hand sides, bytes per number) of a validated stage's system (files: their headers)."""
        cfg = cls.normalize(cfg, Validator(registry), stage=None)
        spec, rhs = cfg["matrix"], cfg["rhs"]
        n = matrix_io.array_shape(spec["file"], spec["dataset"])[0] if spec["kind"] == "file" else spec["n"]
        shape = matrix_io.array_shape(rhs["file"], rhs["dataset"]) if rhs["kind"] == "file" else (n, rhs["nrhs"])
        return n, (shape[1] if len(shape) > 1 else 1), 16 if spec.get("complex") or rhs.get("complex") else 8

    @staticmethod
    def _header(check, validator, stage, key):
        try:
            return check()
        except FormatError as exc:
            raise validator.error(str(exc), stage, f"{key}.file") from None

    @staticmethod
    def normalize(cfg, validator, stage):
        """cfg with ``matrix`` and ``rhs`` validated and normalized (DeckError naming the key otherwise)."""
        out = dict(cfg)
        out["matrix"] = _source(validator, cfg["matrix"], MATRIX_SOURCES, stage=stage, key="matrix")
        out["rhs"] = _source(validator, cfg["rhs"] or {"generator": "random"}, RHS_SOURCES, stage=stage, key="rhs")
        known = formats.names(validator.registry)
        if cfg["factorization"] not in known:
            raise validator.error(f"unknown factorization precision {cfg['factorization']!r}; registered: "
                                  f"{', '.join(known)}", stage, "factorization")
        return out

    def run(self, ctx, cfg):
        comm = MPI.COMM_WORLD
        message = None
        if comm.rank == 0:
            try:
                message = ("ok", *self._solve(ctx, cfg))
            except Exception as exc:  # every rank must learn of it, or the others would hang
                message, error = ("error", _portable(exc)), exc
        message = comm.bcast(message, root=0)
        if message[0] == "error":     # every rank raises the same error: same message, class, exit code
            raise error if comm.rank == 0 else message[1]
        _, result, info = message
        path = f"/{ctx.stage}"
        if result.x is not None:
            ctx.results.write(f"{path}/x", result.x)
        ctx.results.write(f"{path}/history", np.asarray(result.history, dtype=np.float64))
        ctx.results.set_attrs(path, {**result.report(), **info})
        outcome = "converged" if result.converged else "NOT converged"
        extra = f", fell back to fp64 (code {result.code}: {result.code_name})" if result.fell_back else \
            (f", code {result.code}: {result.code_name}" if result.code else "")
        ctx.log(f"{ctx.stage}: n = {info['n']}, {result.factorization} LU + {result.refinement} refinement: "
                f"{outcome} in {result.niters} iterations{extra}; HPL-MxP backward error "
                f"{result.backward_error:.3g} (<= 16 passes); {result.seconds:.3g} s"
                + (f"; SINGULAR to working precision (rcond {result.rcond:.2e})" if result.singular else ""))
        if result.singular:         # as LAPACK's INFO = N + 1, but an error: x is not meaningful
            raise SolverError(f"stage '{ctx.stage}': the matrix is singular to working precision (reciprocal "
                              f"condition estimate {result.rcond:.2e} < eps): the solution is not meaningful",
                              collective=True)
        if not result.converged:    # as the propagator: the report is kept in the partial results
            raise SolverError(f"stage '{ctx.stage}': the dense solve did not converge ({result.reason}; code "
                              f"{result.code}: {result.code_name})", collective=True)
        return result

    def _solve(self, ctx, cfg):
        base = getattr(ctx.deck, "base_dir", None)
        validator = Validator(ctx.registry, file=getattr(ctx.deck, "path", None), base_dir=base)
        cfg = self.normalize(cfg, validator, ctx.stage)
        A, what = self._matrix(cfg["matrix"], validator, ctx.stage)
        B = self._rhs(cfg["rhs"], A.shape[0], validator, ctx.stage)
        with blas_threads.sized(getattr(ctx.backend, "threads", 1)):     # the backend's threads idle meanwhile
            f = DenseFactorization(A, cfg["factorization"], backend=ctx.backend, block_size=cfg["block_size"],
                                   registry=ctx.registry, what=what)
            result = f.solve(B, cfg["refinement"], tol=cfg["tol"], max_iters=cfg["max_iters"],
                             max_inner=cfg["max_inner"], inner_tol=cfg["inner_tol"], fallback=cfg["fallback"])
        result.times = {**f.times, **result.times}
        info = {"n": A.shape[0], "nrhs": 1 if B.ndim == 1 else B.shape[1], "matrix": what,
                "backend": f.backend.name, "solve_seconds": result.seconds}
        return result, info

    @staticmethod
    def _file(spec, validator, stage, key):
        if not Path(spec["file"]).is_file():
            raise validator.error(f"file not found: {spec['file']}", stage, f"{key}.file")
        return spec["file"], spec["dataset"]

    def _matrix(self, spec, validator, stage):
        if spec["kind"] == "file":
            path, dataset = self._file(spec, validator, stage, "matrix")
            A = self._header(lambda: matrix_io.load_matrix(path, dataset), validator, stage, "matrix")
            return A, f"matrix {matrix_io.describe(path, dataset)}"
        args = {k: v for k, v in spec.items() if k != "kind"}
        A = generators.GENERATORS[spec["kind"]](**args)
        return A, f"{spec['kind']} matrix ({', '.join(f'{k}={v}' for k, v in args.items())})"

    def _rhs(self, spec, n, validator, stage):
        if spec["kind"] == "file":
            path, dataset = self._file(spec, validator, stage, "rhs")
            return self._header(lambda: matrix_io.load_rhs(path, dataset, n), validator, stage, "rhs")
        return generators.random_rhs(n, **{k: v for k, v in spec.items() if k != "kind"})


def _portable(exc):
    """``exc`` as an error every rank can raise: itself (marked collective) where it is an
    HpcmixError that pickles, keeping its class and exit code; else an HpcmixError with its message."""
    if isinstance(exc, HpcmixError):
        exc.collective = True
        try:
            pickle.dumps(exc)
            return exc
        except Exception:
            pass
    out = HpcmixError(str(exc) if isinstance(exc, HpcmixError) else f"rank 0: {type(exc).__name__}: {exc}",
                      collective=True)
    out.exit_code = getattr(exc, "exit_code", 1)
    return out
