"""The propagator stage: solve M x = b (or M^dag M x = b) for every component of a source.

The propagator ``S[t, z, y, x, spin, color, source spin, source color]`` (staggered: no spin
indices; a source with another number of components, such as a file source, has one source index
``S[..., color, k]``) is left for later stages; with ``save_solution`` it is also written as
``/<stage>/solution`` in the canonical layout. Every solve writes its report under
``/<stage>/solves/<component>`` (attributes, plus the residual history as a dataset). Every finished
solve is checkpointed (:mod:`hpcmix.io.checkpoints`); a resumed run takes it from there.
"""

import math

import time

import numpy as np

from .. import memory
from .. import watch
from ..errors import HpcmixError, SolverError
from ..io.eigenvectors import eigenvector_info
from ..params import LATEST, Component, Param, PathParam, Ref
from ..precision import resolve
from ..solvers import EvenOdd, EvenOddNormal, SolveResult, make_solver
from ..solvers.base import nested
from ..solvers.deflate import Deflated
from .base import Stage, backend_fields
from .eigensolve import even_normal_operator, load_modes, write_modes

#: ``deflation = {file, dataset}``: eigenvectors saved by an earlier run's eigensolve stage.
DEFLATION_FILE = {
    "file": Param(PathParam(), doc="the results file of the earlier run (relative to the deck's folder)"),
    "dataset": Param(str, doc="the eigenvectors in it, e.g. \"eig/vectors\" (an eigensolve stage with save = true)"),
}


class Propagator:
    """Solutions for every source component, with what made them."""

    def __init__(self, lattice, data, field_shape, origin, operator, results):
        self.lattice, self.data, self.field_shape = lattice, data, field_shape
        self.origin, self.operator, self.results = origin, operator, results


class OnFields:
    """An inverse operator on a backend's fields (``inverse``, built on ``fields``), taking and giving
    canonical arrays: the conversions at the deck boundary."""

    def __init__(self, inverse, fields):
        self.inverse, self.fields = inverse, fields

    def solve(self, b, x0=None):
        res = self.inverse.solve(self.fields.import_field(b), None if x0 is None else self.fields.import_field(x0))
        res.x = self.fields.export_field(res.x)
        return res


class ColumnSnapshots:
    """A watcher (:mod:`hpcmix.watch`) of the solve of column ``column``: at most every ``every`` seconds
    (rank 0 decides; every rank takes part) the solution accumulated so far, as a canonical array, is kept
    as the checkpoint piece ``<column>-partial``, from which a resumed run restarts the column."""

    def __init__(self, checkpoints, stage, column, every, fields, lattice):
        self.checkpoints, self.stage, self.column, self.every = checkpoints, stage, column, every
        self.fields, self.lattice, self.last = fields, lattice, time.monotonic()

    def snapshot(self, result, y):
        if not self.lattice.pg.bcast(time.monotonic() - self.last >= self.every):
            return
        x = self.lattice.gather(y if self.fields is None else self.fields.export_field(y))
        self.checkpoints.save(self.stage, f"{self.column}-partial", {"x": (x, 0)}, {"iterations": result.iterations})
        self.last = time.monotonic()


class PropagatorStage(Stage):
    name = "propagator"
    description = "solve the Dirac equation for every component of a source"
    produces = "propagator"
    params = {
        "gauge": Param(Ref("gauge"), LATEST, "the gauge field"),
        "operator": Param(Component("operators"), doc="the Dirac operator, e.g. {kind = \"wilson_clover\", kappa = 0.13, csw = 1.0}"),
        "source": Param(Component("sources"), {"kind": "point", "site": [0, 0, 0, 0]}, "the source"),
        "solver": Param(Component("solvers"), {"kind": "cg"}, "the solver, e.g. {kind = \"cg\", tol = 1e-10}"),
        "solve": Param(str, "M", "which system: M x = b, or M^dag M x = b", choices=("M", "MdagM")),
        "evenodd": Param(bool, True, "solve the even-odd (Schur) preconditioned system and reconstruct"),
        "deflation": Param((str, dict), "", "the low modes that give every solve its starting guess and are "
                           "projected out again at reliable updates (solve = \"M\", even-odd): an earlier eigensolve "
                           "stage of the same operator and gauge field, or {file, dataset} saved by an earlier run; "
                           "\"\": none"),
        "save_solution": Param(bool, False, "write the solution as /<stage>/solution"),
        "save_modes": Param(bool, False, "write the low modes the solver accumulated (eigcg) as /<stage>/modes/"
                                         "{eigenvalues, residuals, vectors}, as an eigensolve stage saves them"),
    }

    @staticmethod
    def memory(cfg, local_dims, registry):
        """Working, per rank (V local sites): the operator on canonical arrays and the source's components
        (built all at once), and the larger of building the backend's links (:func:`~hpcmix.memory.row_links`)
        and solving: the operator on the backend's fields in each precision its solver applies it in, a
        solve's imported right-hand side (two half-lattice fields) and exported solution (canonical
        complex128), the solver's fields (twice without even-odd preconditioning), and deflation vectors read
        from a file (canonical complex128 as read, plus a half-lattice field each in their precision); kept:
        the propagator, complex128 [V, site, source components] (:mod:`hpcmix.memory`)."""
        sites, op_cfg, solver = math.prod(local_dims), cfg["operator"], cfg["solver"]
        op_kind = registry.lookup("operators", op_cfg["kind"])
        shape = op_kind.field_shape
        vector = sites * memory.complex_sites(shape) * memory.COMPLEX
        solving = sum(memory.backend_operator(op_kind, op_cfg, sites, p, r)
                      for p, r in memory.operator_views(registry, solver))
        solving += 2 * vector + memory.solver_fields(registry, solver, sites, shape, 1 if cfg["evenodd"] else 2)
        if isinstance(cfg["deflation"], dict):
            held, _, attrs = eigenvector_info(cfg["deflation"]["file"], cfg["deflation"]["dataset"])
            precision = resolve(registry, str(attrs.get("precision", "double")))
            solving += held[0] * (vector + memory.half_field(precision, sites, shape))
        building = 2 * memory.row_links(op_kind, sites, resolve(registry, "double"))
        working = memory.canonical_dirac(op_kind, op_cfg, sites) + memory.complex_sites(shape) * vector
        working += max(building, solving)
        return working, memory.complex_sites(shape) * vector

    @staticmethod
    def memory_rank0(cfg, dims, local_dims, registry):
        """With ``save_solution``, rank 0 gathers the whole propagator (the parts received and the assembled
        array: twice its bytes); with ``save_modes``, the modes eigCG found (n_ev x rhs_for_eigcg fields of
        the whole lattice, gathered and stacked: twice)."""
        shape = registry.lookup("operators", cfg["operator"]["kind"]).field_shape
        field = math.prod(dims) * memory.complex_sites(shape) * memory.COMPLEX
        modes = cfg["solver"].get("n_ev", 8) * cfg["solver"].get("rhs_for_eigcg", 8) if cfg["save_modes"] else 0
        return 2 * field * ((memory.complex_sites(shape) if cfg["save_solution"] else 0) + modes)

    def run(self, ctx, cfg):
        lattice = ctx.lattice
        op_kind = ctx.registry.lookup("operators", cfg["operator"]["kind"])
        src_kind = ctx.registry.lookup("sources", cfg["source"]["kind"])
        dirac = op_kind.build(ctx.objects[cfg["gauge"]], cfg["operator"], ctx)
        solver = accumulating = make_solver(ctx.registry, cfg["solver"])
        field_shape = op_kind.field_shape
        sources = src_kind.build(lattice, cfg["source"], field_shape, ctx)
        deflation = cfg["deflation"]
        if deflation:
            solver = Deflated(solver, ctx.objects[deflation] if isinstance(deflation, str)
                              else load_modes(deflation["file"], deflation["dataset"], dirac, ctx))
        fields, problem = backend_fields(dirac, ctx)
        multigrids = self.set_up(solver, fields, problem, ctx)
        inverse = self.inverse(dirac, solver, cfg, ctx, (fields, problem))
        # one source component per field component (point, wall), else as many as the source gives (file)
        source_shape = field_shape if len(sources) == int(np.prod(field_shape)) else (len(sources),)
        data = np.empty(lattice.shape + field_shape + source_shape, dtype=np.complex128)
        flat = data.reshape(lattice.shape + field_shape + (-1,))
        results = []
        checkpoints = ctx.checkpoints
        done = checkpoints.load(ctx.stage) if checkpoints is not None else {}
        every = ctx.deck.run["checkpoint_seconds"] if ctx.deck is not None else 0
        for i, b in enumerate(sources):
            if str(i) in done:                                    # solved by the run this one resumes
                arrays, report = done[str(i)]
                res = SolveResult.from_report(report, arrays["history"], arrays["x"])
            else:
                x0, at = None, None
                if f"{i}-partial" in done:                        # the snapshot of the run this one resumes
                    arrays, found = done[f"{i}-partial"]
                    x0, at = arrays["x"], int(found["iterations"])
                    ctx.log(f"  source component {i}: resumed from its snapshot at iteration {at}")
                if checkpoints is not None and every > 0:
                    with watch.watching(ColumnSnapshots(checkpoints, ctx.stage, i, every, fields, lattice)):
                        res = inverse.solve(b, x0)
                else:
                    res = inverse.solve(b, x0)
                if checkpoints is not None:
                    checkpoints.save(ctx.stage, i, {"x": (lattice.gather(res.x), 0), "history": (res.history, None)},
                                     res.report())
            flat[..., i] = res.x
            res.x = None                                          # held once, in the propagator
            results.append(res)
            self.write_report(ctx, i, res)
            ctx.log(f"  source component {i}: {res.solver} {res.iterations} iterations, true residual "
                    f"{res.true_residual:.3e}, {res.seconds:.2f} s" + (" (from the checkpoint)" if str(i) in done else ""))
        total = {"iterations": sum(r.iterations for r in results), "seconds": sum(r.seconds for r in results),
                 "converged": all(r.converged for r in results),
                 "max_true_residual": max(r.true_residual for r in results),
                 "operator": cfg["operator"], "source": cfg["source"], "solver": cfg["solver"],
                 "evenodd": cfg["evenodd"], "solve": cfg["solve"], "deflation": cfg["deflation"]}
        if multigrids:
            total["setup_seconds"] = sum(mg.hierarchy.setup_seconds for mg in multigrids)
            for i, mg in enumerate(multigrids):
                ctx.results.set_attrs(f"{ctx.stage}/multigrid/{i}", {
                    "setup_seconds": mg.hierarchy.setup_seconds, "levels": [dict(level.stats)
                                                                           for level in mg.hierarchy.levels]})
        ctx.results.set_attrs(ctx.stage, total)
        if cfg["save_solution"]:
            ctx.results.write(f"{ctx.stage}/solution", lattice.gather(data))
        if cfg["save_modes"]:
            modes = accumulating.eigenpairs()
            write_modes(ctx, f"{ctx.stage}/modes", modes, even_normal_operator(dirac, ctx)[0], cfg["operator"], True,
                        {"tol": float(modes.residuals.max()), "precision": modes.vectors.precision.name,
                         "n_ev": len(modes.eigenvalues), "solver": accumulating.name})
            ctx.log(f"  saved {len(modes.eigenvalues)} modes as /{ctx.stage}/modes, lambda {modes.eigenvalues[0]:.6e} "
                    f".. {modes.eigenvalues[-1]:.6e}, largest residual {modes.residuals.max():.2e}")
        bad = [i for i, r in enumerate(results) if not r.converged]
        if bad:
            raise SolverError(f"stage '{ctx.stage}': {len(bad)} of {len(results)} solves did not converge "
                              f"(first: component {bad[0]}, {results[bad[0]].reason}, true residual "
                              f"{results[bad[0]].true_residual:.3e})", collective=True)
        return Propagator(lattice, data, field_shape, src_kind.origin(cfg["source"]), cfg["operator"]["kind"],
                          results)

    @staticmethod
    def validate_config(cfg, registry):
        """The solver's link compressions must suit the operator's links (asqtad's are not SU(3)); saving
        modes needs a solver that accumulates them, on the even-odd M system; a multigrid preconditioner
        works on the full system M of a Wilson-type operator."""
        problem = _check_multigrid(cfg, registry)
        if problem:
            return problem
        if cfg["save_modes"]:
            if not hasattr(registry.lookup("solvers", cfg["solver"]["kind"]), "eigenpairs"):
                return ("save_modes", f"solver '{cfg['solver']['kind']}' accumulates no eigenvectors (eigcg does)")
            if cfg["solve"] != "M" or not cfg["evenodd"]:
                return ("save_modes", "needs solve = \"M\" and evenodd = true (the modes are those of the even-odd "
                        "normal operator)")
        allowed = getattr(registry.lookup("operators", cfg["operator"]["kind"]), "reconstructs", (18, 12, 8))
        solver = cfg["solver"]
        for key in ("reconstruct", "reconstruct_sloppy"):
            value = solver.get(key, 18)
            if value != "same" and value not in allowed:
                return (f"solver.{key}", f"operator '{cfg['operator']['kind']}' allows reconstruct "
                        f"{', '.join(map(str, allowed))} only, got {value}")
        return None

    @staticmethod
    def uses_evenodd(cfg):
        """Whether the solve is even-odd preconditioned (needs even local extents: DESIGN.md)."""
        return cfg["evenodd"]

    @staticmethod
    def produces_for(cfg):
        """A "propagator" M^-1 b for solve = "M"; (M^dag M)^-1 b is a "normal_propagator", which a
        meson stage must not take for M^-1."""
        return "propagator" if cfg["solve"] == "M" else "normal_propagator"

    @staticmethod
    def check_lattice(cfg, dims, registry):
        """The source fits the lattice and the operator's fields; even-odd preconditioning (and staggered fermions, whose phases
        and parities must be periodic) need even global extents."""
        odd = [f"{'xyzt'[mu]} = {d}" for mu, d in enumerate(dims) if d % 2]
        operator = registry.lookup("operators", cfg["operator"]["kind"])
        if odd and getattr(operator, "needs_even_extents", False):
            return ("operator.kind", f"operator '{cfg['operator']['kind']}' needs even lattice extents, got "
                    f"{', '.join(odd)}")
        if odd and cfg["evenodd"]:
            return ("evenodd", f"even-odd preconditioning needs even lattice extents, got {', '.join(odd)}; "
                    "set evenodd = false")
        deflation = cfg["deflation"]
        if isinstance(deflation, dict):
            shape = eigenvector_info(deflation["file"], deflation["dataset"])[0]
            if list(shape[1:5][::-1]) != list(dims) or tuple(shape[5:]) != tuple(operator.field_shape):
                return ("deflation.dataset", f"{deflation['file']}: /{deflation['dataset']} holds vectors of shape "
                        f"{list(shape[1:])} ([T, Z, Y, X, site...]), this stage needs {list(dims[::-1])} + "
                        f"{list(operator.field_shape)}")
        source = registry.lookup("sources", cfg["source"]["kind"])
        check = getattr(source, "check_lattice", None)
        problem = check(cfg["source"], dims) if check is not None else None
        field = getattr(source, "check_field", None)
        if problem is None and field is not None:
            problem = field(cfg["source"], operator.field_shape)
        return (f"source.{problem[0]}", problem[1]) if problem else None

    @staticmethod
    def check_inputs(cfg, validator, stage):
        """``deflation`` names an earlier eigensolve stage of the same operator and gauge field, or a file of
        eigenvectors found for the same operator, and the system is the even-odd M x = b whose normal
        operator those modes belong to."""
        name = cfg["deflation"]
        if isinstance(name, str) and not name:
            return
        if cfg["solve"] != "M" or not cfg["evenodd"]:
            raise validator.error("deflation needs solve = \"M\" and evenodd = true (the modes are those of the "
                                  "even-odd normal operator)", stage, "deflation")
        if isinstance(name, dict):
            cfg["deflation"] = table = validator.table(DEFLATION_FILE, name, stage=stage, prefix="deflation.")
            try:
                operator = eigenvector_info(table["file"], table["dataset"])[1]
            except HpcmixError as exc:
                raise validator.error(str(exc), stage, "deflation.dataset") from None
            if operator != cfg["operator"]:
                raise validator.error(f"{table['file']}: /{table['dataset']} holds the modes of operator {operator}, "
                                      f"this stage's is {cfg['operator']}", stage, "deflation.dataset")
            return
        earlier = [n for n, typ in validator.produced if typ == "eigenvectors"]
        if name not in earlier:
            raise validator.error(f"no earlier eigensolve stage named '{name}' (earlier ones: "
                                  f"{', '.join(earlier) or 'none'})", stage, "deflation")
        eig = validator.configs.get(name)
        if eig is None:                       # that stage failed its own validation, and says so
            return
        if eig["operator"] != cfg["operator"] or eig["gauge"] != cfg["gauge"]:
            raise validator.error(f"stage '{name}' found the modes of another operator or gauge field "
                                  f"({eig['operator']} on '{eig['gauge']}')", stage, "deflation")

    @staticmethod
    def set_up(solver, fields, problem, ctx):
        """Build what the solvers in ``solver`` need before they solve (a multigrid hierarchy: ``setup`` on the
        backend's ``fields``); returns those solvers."""
        prepared = [s for s in nested(solver) if hasattr(s, "setup")]
        for s in prepared:
            if fields is None:
                raise SolverError(f"stage '{ctx.stage}': solver '{s.name}' runs on the backend's fields: {problem}",
                                  collective=True)
            hierarchy = s.setup(fields)
            ctx.log(f"  {s.name} setup: {len(hierarchy.levels)} coarse level(s) "
                    f"{[lev.stats['coarse_dims'] for lev in hierarchy.levels]}, {hierarchy.setup_seconds:.2f} s")
        return prepared

    @staticmethod
    def inverse(dirac, solver, cfg, ctx, backend=None):
        """The inverse operator for the requested system and preconditioning: operators that run on the
        backend's fields (``on_backend``; the row layout needs even extents; ``backend``: the (fields, why
        none) of :func:`backend_fields` where known) solve there, the rest on canonical numpy arrays."""
        normal = cfg["solve"] == "MdagM"
        fields, problem = backend or backend_fields(dirac, ctx)
        if problem and hasattr(dirac, "on_backend"):
            ctx.log(f"  {problem}: the solve runs on canonical numpy arrays, not on backend '{ctx.backend.name}'")
        if fields is not None:
            if normal:
                inverse = (EvenOddNormal(solver, evenodd=cfg["evenodd"])(fields)
                           if hasattr(fields, "normal_operator") else solver(fields.operator().normal()))
            else:
                inverse = EvenOdd(solver)(fields) if cfg["evenodd"] else solver(fields.operator())
            return OnFields(inverse, fields)
        if normal:
            if hasattr(dirac, "normal_operator"):
                return EvenOddNormal(solver, evenodd=cfg["evenodd"])(dirac)
            return solver(dirac.operator().normal())
        if cfg["evenodd"] and hasattr(dirac, "schur"):
            return EvenOdd(solver)(dirac)
        return solver(dirac.operator())

    @staticmethod
    def write_report(ctx, i, res):
        group = f"{ctx.stage}/solves/{i}"
        ctx.results.write(f"{group}/history", np.asarray(res.history, dtype=np.float64))
        ctx.results.set_attrs(group, res.report())


def _solver_kinds(table):
    """The kinds of a solver table and of every solver table nested in it."""
    yield table.get("kind")
    for value in table.values():
        if isinstance(value, dict) and "kind" in value:
            yield from _solver_kinds(value)


def _check_multigrid(cfg, registry):
    """(key, message) where a multigrid preconditioner cannot work on this stage's system, else None."""
    if "multigrid" not in set(_solver_kinds(cfg["solver"])):
        return None
    if cfg["evenodd"] or cfg["solve"] != "M":
        return ("evenodd", "a multigrid preconditioner works on the full system M (its smoother works on the even-odd "
                "system inside): set evenodd = false and solve = \"M\"")
    if tuple(registry.lookup("operators", cfg["operator"]["kind"]).field_shape) != (4, 3):
        return ("operator.kind", f"multigrid needs a Wilson-type operator (spin and colour), not "
                f"'{cfg['operator']['kind']}'")
    if cfg["deflation"]:
        return ("deflation", "deflation and multigrid do not combine (the modes are those of the even-odd system)")
    return None
