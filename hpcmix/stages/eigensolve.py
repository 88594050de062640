"""The eigensolve stage: the lowest eigenpairs of the Hermitian operator even-odd CG iterates on.

For Wilson and Wilson-clover Mhat^dag Mhat, Mhat = A_ee - (1/4) D_eo A_oo^-1 D_oe on even sites; for
staggered M^dag M on even sites (DESIGN.md), on the backend's fields, by thick-restart Lanczos
(:mod:`hpcmix.solvers.trlm`). Writes ``/<stage>/eigenvalues`` (ascending, float64) and
``/<stage>/residuals`` (||A v - lambda v|| / ||A||), the solve's figures as the group's attributes, and
with ``save = true`` ``/<stage>/vectors`` in the canonical layout ``[n, T, Z, Y, X, *site]``, zero on odd
sites, with the operator's parameters and a CRC32 of the stored bytes; :func:`load_modes` reads such
vectors back for a later run's deflation.
"""

import json
import math

import h5py
import numpy as np

from .. import memory
from ..errors import SolverError
from ..io.eigenvectors import read_eigenvectors
from ..params import LATEST, Component, Param, Ref
from ..precision import DOUBLE, resolve
from ..solvers.trlm import EigenResult, TRLM
from .base import Stage, backend_fields

CHEBYSHEV_KEYS = {"degree": int, "a_min": (int, float), "a_max": (int, float)}
MAX_DEGREE = 1000      # a Chebyshev step costs `degree` applications of the operator


class EigensolveStage(Stage):
    name = "eigensolve"
    description = "lowest eigenpairs of the even-odd normal operator (thick-restart Lanczos)"
    produces = "eigenvectors"
    params = {
        "gauge": Param(Ref("gauge"), LATEST, "the gauge field"),
        "operator": Param(Component("operators"), doc="the Dirac operator, as a propagator's"),
        "evenodd": Param(bool, True, "the even-odd normal operator (the only one for now)", choices=(True,)),
        "n_ev": Param(int, 16, "eigenpairs wanted", check=lambda n: None if n >= 1 else f"must be >= 1, got {n}"),
        "n_kr": Param(int, 0, "Krylov space size (>= n_ev + 6; 0: 2 n_ev + 8)"),
        "tol": Param(float, 1e-8, "residual bound ||A v - lambda v|| <= tol ||A||",
                     check=lambda t: None if 0 < t < 1 else f"must be in (0, 1), got {t}"),
        "max_restarts": Param(int, 100, "thick restarts at most"),
        "chebyshev": Param(dict, {}, "Chebyshev acceleration {degree, a_min, a_max (default: 1.1 x a power "
                                     "estimate)}; empty: none"),
        "precision": Param(str, "double", "precision of the Krylov basis and the returned vectors"),
        "save": Param(bool, False, "write the eigenvectors as /<stage>/vectors"),
    }

    @staticmethod
    def validate_config(cfg, registry):
        n_kr = cfg["n_kr"] or 2 * cfg["n_ev"] + 8
        if n_kr < cfg["n_ev"] + 6:
            return "n_kr", f"must be >= n_ev + 6 = {cfg['n_ev'] + 6}, got {n_kr}"
        cheb = cfg["chebyshev"]
        for key, value in cheb.items():
            if key not in CHEBYSHEV_KEYS:
                return f"chebyshev.{key}", f"unknown key; allowed keys are: {', '.join(CHEBYSHEV_KEYS)}"
            if isinstance(value, bool) or not isinstance(value, CHEBYSHEV_KEYS[key]):
                return f"chebyshev.{key}", f"expected a number, got {value!r}"
        if cheb and ("degree" not in cheb or "a_min" not in cheb):
            return "chebyshev", "needs degree and a_min (a_max is estimated where absent)"
        if cheb and not (1 <= cheb["degree"] <= MAX_DEGREE and 0 < cheb["a_min"] < cheb.get("a_max", np.inf)
                         and all(math.isfinite(v) for v in cheb.values())):
            return "chebyshev", f"needs 1 <= degree <= {MAX_DEGREE} and finite 0 < a_min < a_max, got {cheb}"
        try:
            resolve(registry, cfg["precision"])
        except Exception as exc:                        # the registry's message names the precisions
            return "precision", str(exc)
        return None

    @staticmethod
    def uses_evenodd(cfg):
        return True

    @staticmethod
    def memory(cfg, local_dims, registry):
        """Working, per rank (V local sites): the operator on canonical arrays, and the larger of building the
        backend's links (:func:`~hpcmix.memory.row_links`) and solving: the operator on the backend's fields
        (in double, and in ``precision`` where that differs) and the Lanczos basis (:meth:`_basis`); kept: the
        n_ev eigenvectors, half-lattice fields in ``precision`` (:mod:`hpcmix.memory`)."""
        sites, op_cfg = math.prod(local_dims), cfg["operator"]
        op_kind = registry.lookup("operators", op_cfg["kind"])
        precision, double = resolve(registry, cfg["precision"]), resolve(registry, "double")
        field = memory.half_field(precision, sites, op_kind.field_shape)
        solving = EigensolveStage._basis(cfg) * field + sum(
            memory.backend_operator(op_kind, op_cfg, sites, p, 18) for p in {double, precision})
        building = 2 * memory.row_links(op_kind, sites, double)
        return memory.canonical_dirac(op_kind, op_cfg, sites) + max(building, solving), cfg["n_ev"] * field

    @staticmethod
    def _basis(cfg):
        """Half-lattice fields the Lanczos solve holds: its basis (n_kr + 1) and either the Ritz vectors of a
        restart (n_ev + (n_kr - n_ev) / 2) or a copy of the n_ev eigenvectors at the end."""
        n_ev, n_kr = cfg["n_ev"], cfg["n_kr"] or 2 * cfg["n_ev"] + 8
        return n_kr + 1 + max(min(n_ev + (n_kr - n_ev) // 2, n_kr - 1), n_ev)

    @staticmethod
    def memory_rank0(cfg, dims, local_dims, registry):
        """With ``save``, rank 0 gathers the n_ev eigenvectors of the whole lattice (canonical complex128),
        stacks them and takes their bytes for the checksum: three times their bytes, less the Lanczos basis,
        freed by then."""
        if not cfg["save"]:
            return 0
        op_kind = registry.lookup("operators", cfg["operator"]["kind"])
        shape = op_kind.field_shape
        gathered = 3 * cfg["n_ev"] * math.prod(dims) * memory.complex_sites(shape) * memory.COMPLEX
        basis = EigensolveStage._basis(cfg) * memory.half_field(resolve(registry, cfg["precision"]),
                                                                  math.prod(local_dims), shape)
        return max(0, gathered - basis)

    def run(self, ctx, cfg):
        op_kind = ctx.registry.lookup("operators", cfg["operator"]["kind"])
        dirac = op_kind.build(ctx.objects[cfg["gauge"]], cfg["operator"], ctx)
        fields, op = even_normal_operator(dirac, ctx)
        cheb = cfg["chebyshev"]
        solver = TRLM(cfg["n_ev"], cfg["n_kr"] or None, tol=cfg["tol"], max_restarts=cfg["max_restarts"],
                      poly_degree=cheb.get("degree", 1), a_min=cheb.get("a_min"), a_max=cheb.get("a_max"),
                      precision=resolve(ctx.registry, cfg["precision"]))
        done = ctx.checkpoints.load(ctx.stage) if ctx.checkpoints is not None else {}
        if "modes" in done:                              # found by the run this one resumes
            arrays, found = done["modes"]
            res = EigenResult(vectors=canonical_block(op.space, fields, arrays["vectors"], solver.precision or DOUBLE),
                              eigenvalues=arrays["eigenvalues"], residuals=arrays["residuals"],
                              history=[int(h) for h in arrays["history"]], **found)
            ctx.log("  the eigenpairs of the run this one resumes (from the checkpoint)")
        else:
            res = solver.solve(op)
            if ctx.checkpoints is not None:
                ctx.checkpoints.save(ctx.stage, "modes", {
                    "vectors": (gathered_block(ctx, fields, res.vectors), 1), "eigenvalues": (res.eigenvalues, None),
                    "residuals": (res.residuals, None), "history": (np.asarray(res.history, np.int64), None)},
                    {k: getattr(res, k) for k in ("converged", "matvecs", "restarts", "seconds", "a_max", "norm",
                                                  "locked")})
        write_modes(ctx, ctx.stage, res, fields, cfg["operator"], cfg["save"],
                    {"converged": res.converged, "matvecs": res.matvecs, "restarts": res.restarts, "seconds": res.seconds,
                     "a_max": res.a_max, "n_ev": cfg["n_ev"], "tol": cfg["tol"], "precision": cfg["precision"],
                     "memory_bytes": res.vectors.data.nbytes * (solver.n_kr + 1) // len(res.vectors)})
        ctx.log(f"  {len(res.eigenvalues)} eigenpairs in {res.restarts} restarts, {res.matvecs} matvecs, "
                f"{res.seconds:.2f} s; lambda {res.eigenvalues[0]:.6e} .. {res.eigenvalues[-1]:.6e}, largest "
                f"residual {res.residuals.max():.2e}")
        if not res.converged:
            raise SolverError(f"stage '{ctx.stage}': {int(np.sum(res.residuals > cfg['tol']))} of {cfg['n_ev']} "
                              f"eigenpairs above tol {cfg['tol']:.1e} after {res.restarts} restarts (largest "
                              f"residual {res.residuals.max():.2e}); raise max_restarts or n_kr", collective=True)
        return res


def write_modes(ctx, group, res, fields, operator, save, attrs):
    """Write the eigenpairs ``res`` of the even-odd normal operator of ``operator`` (its deck table) as
    ``/<group>/eigenvalues``, ``/<group>/residuals`` and, with ``save``, ``/<group>/vectors`` (canonical
    layout, zero on odd sites, the operator and a CRC32 as attributes), with ``attrs`` (which must hold the
    ``tol`` the pairs met and the ``precision`` they are stored in) on the group: what :func:`load_modes`
    reads back."""
    ctx.results.write(f"{group}/eigenvalues", res.eigenvalues)
    ctx.results.write(f"{group}/residuals", res.residuals)
    vectors = gathered_block(ctx, fields, res.vectors) if save else None
    if vectors is not None:                                  # rank 0
        ctx.results.write(f"{group}/vectors", vectors, {"layout": "[n, T, Z, Y, X, site...], zero on odd sites",
                                                        "operator": json.dumps(operator)})
    ctx.results.set_attrs(group, dict(attrs, operator=json.dumps(operator), norm_estimate=res.norm))


def gathered_block(ctx, fields, block):
    """The fields of ``block`` (even sites) as one canonical global array [n, T, Z, Y, X, *site], zero on odd
    sites, on rank 0 (None elsewhere)."""
    gathered = [ctx.lattice.gather(fields.export_field(block[i])) for i in range(len(block))]
    return np.stack(gathered) if gathered[0] is not None else None


def canonical_block(sp, fields, local, precision):
    """A FieldBlock in ``precision`` of the even sites of the canonical local arrays ``local[n, t, z, y, x, *site]``."""
    block = sp.block(len(local), precision)
    for i, array in enumerate(local):
        sp.lincomb(block[i], (1.0,), (fields.import_field(array)[0],))
    return block


def even_normal_operator(dirac, ctx):
    """(``dirac``'s backend fields, the even-odd normal operator on their even sites)."""
    fields, problem = backend_fields(dirac, ctx)
    if problem:
        raise SolverError(f"stage '{ctx.stage}': eigenvectors live on the backend's fields: {problem}", collective=True)
    return fields, fields.normal_operator(0) if hasattr(fields, "normal_operator") else fields.schur(0)[0].normal()


def load_modes(path, dataset, dirac, ctx):
    """The eigenpairs an earlier run's eigensolve stage saved (``path``, ``dataset``), as an EigenResult on
    ``dirac``'s backend fields, stored in that stage's precision. Each eigenvalue is recomputed as the
    Rayleigh quotient <v, A v> / <v, v> of this run's operator A, and each pair checked: a residual
    ||A v - lambda v|| / ||A|| above max(100 tol, 100 u) (tol and unit roundoff u of the saving stage) means
    that the vectors belong to another operator (gauge field, boundary conditions), a SolverError."""
    fields, op = even_normal_operator(dirac, ctx)
    with h5py.File(path, "r") as h5:
        group = dict(h5[dataset].parent.attrs)
    precision = resolve(ctx.registry, str(group.get("precision", "double")))
    local = read_eigenvectors(path, dataset, ctx.lattice)
    sp = op.space
    vectors = canonical_block(sp, fields, local, precision)
    lam, res = np.empty(len(local)), np.empty(len(local))
    norm = float(group.get("norm_estimate", 1.0))
    for i in range(len(local)):
        v = vectors[i]
        av = op(v)
        lam[i] = sp.inner(v, av).real / sp.norm2(v)
        res[i] = np.sqrt(sp.norm2(sp.lincomb(av, (1.0, -lam[i]), (av, v))) / sp.norm2(v)) / norm
    limit = 100 * max(float(group.get("tol", 0.0)), precision.unit_roundoff)
    if np.any(res > limit):
        raise SolverError(f"stage '{ctx.stage}': {path}: /{dataset} are not eigenvectors of this operator: "
                          f"{int(np.sum(res > limit))} of {len(res)} residuals ||A v - lambda v|| / ||A|| above "
                          f"{limit:.1e} (largest {res.max():.2e}): another gauge field or boundary condition?",
                          collective=True)
    ctx.log(f"  deflation: {len(lam)} modes from {path}:/{dataset}, lambda {lam.min():.6e} .. {lam.max():.6e}, "
            f"largest residual {res.max():.2e}")
    return EigenResult(eigenvalues=lam, vectors=vectors, residuals=res, converged=True, matvecs=len(lam), norm=norm)

