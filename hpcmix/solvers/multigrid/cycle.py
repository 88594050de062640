"""Adaptive multigrid as a preconditioner: the K-cycle (QUDA's, DD-alpha-AMG's) over a :class:`~.hierarchy.Hierarchy`.

One application z = K r at level l (operator A_l, transfer P_l, coarse operator D = P_l^dag A_l P_l):

    e = 0, s = r;  nu_pre smoothing steps (omega) on A_l e = r;
    e += P_l GCR(D, tol = coarse_tol)^-1 P_l^dag s,  s = r - A_l e;  nu_post smoothing steps;

the coarse system is solved by flexible GCR in ``coarse_precision`` (P and P^dag in its compute dtype too),
itself preconditioned by the K-cycle of level l + 1 where there is one (a K-cycle: a Krylov solve wraps each
coarser level); on the coarsest level by GCR or, with ``coarsest = "lu"``, by the dense fp32 LU with iterative refinement to
``coarse_tol`` (:mod:`.coarsest`; ``"auto"``, the default: the LU up to :data:`~.coarsest.LU_MAX_DOF` global dofs).
The smoother is MR or GCR (``smoother_kind``, :mod:`.smoother`): on the even-odd Schur system of the finest level
with ``smoother = "evenodd"`` (the default), on the full system with "full"; on coarse levels always on the full
coarse system. Used as GCR's
preconditioner, K changes from one application to the next, which flexible GCR allows; convergence is judged by
the outer GCR on the true residual.

:class:`Multigrid` is the registered solver ``multigrid``: ``mg = Multigrid(levels=[...], ...)``,
``mg.setup(fields)`` (fields: a WilsonFields) builds the hierarchy once, then ``GCR(preconditioner=mg)``
solves M x = b on ``fields.operator()`` for any number of right-hand sides; each application is one K-cycle.
``setup = {save, load, refresh}`` writes the setup to a file after it is built and reads it back in a later run
(:mod:`.persistence`, :mod:`.reuse`); ``mg.hierarchy.origin`` and ``mg.note`` say what was done.
"""

import time
from pathlib import Path

from ...errors import DeckError, HpcmixError
from ...params import ListOf, Param, PathParam, Table
from ...precision import DOUBLE, HALF, SINGLE
from ..base import Solver, SolveResult
from ..bicgstab import BiCGstab
from ..gcr import GCR
from .coarsest import LU_MAX_DOF, DenseCoarsest
from .hierarchy import Hierarchy
from .levels import WilsonLevel
from .persistence import operator_identity, write_setup
from .reuse import choose
from .smoother import SMOOTHERS, EvenOddSmoother

COARSE_PRECISIONS = {"double": DOUBLE, "single": SINGLE, "half": HALF}
#: ``setup = {...}``: persistence and reuse of the setup.
SETUP_FILES = {
    "save": Param(PathParam(must_exist=False), None, "write the setup to this HDF5 file once it is built (relative "
                  "to the deck's folder; never over an existing file but the one loaded)"),
    "load": Param(PathParam(must_exist=False), None, "read the setup from this file instead of building it where "
                  "it was made with the same levels, setup_tol, setup_maxiter, null_precision and seed (else it is "
                  "built afresh, with a warning); may be missing only where it is also the save target"),
    "refresh": Param(int, None, "for another operator (a changed gauge field): relax the loaded vectors with this "
                     "many setup iterations each and rebuild P and the coarse operators, instead of building afresh",
                     check=lambda v: None if v >= 1 else "must be >= 1"),
}


class KCycle(Solver):
    """One K-cycle from level ``index`` of ``mg``'s hierarchy, as a solver of A_index z = r (module doc)."""

    name = "kcycle"

    def __init__(self, mg, index):
        super().__init__()
        self.mg, self.index = mg, index
        level = mg.hierarchy.levels[index]
        coarsest = index + 1 == len(mg.hierarchy.levels)
        self.coarse_op = level.coarse.at(COARSE_PRECISIONS[mg.coarse_precision])
        self.transfer = level.transfer.at(self.coarse_op.precision)
        level.stats.update(coarse_bytes=self.coarse_op.nbytes(), cycles=0, coarse_iterations=0, coarse_seconds=0.0,
                           operator_applications=0, seconds=0.0)
        if coarsest and mg.coarsest_solver(self.coarse_op) == "lu":
            self.coarse_solver = DenseCoarsest(self.coarse_op, mg.coarse_tol)
            level.stats.update(coarsest="lu", coarsest_setup_seconds=self.coarse_solver.seconds)
        else:
            self.coarse_solver = GCR(tol=mg.coarse_tol, maxiter=mg.coarse_maxiter, nkrylov=mg.coarse_nkrylov,
                                     precision=self.coarse_op.precision,
                                     preconditioner=None if coarsest else KCycle(mg, index + 1))
            if coarsest:
                level.stats.update(coarsest="gcr")
        self.level = level
        evenodd = index == 0 and mg.smoother == "evenodd"
        steps = SMOOTHERS[mg.smoother_kind]()
        self.smooth = EvenOddSmoother(level.fine.fields, steps) if evenodd else steps

    def solve(self, op, r, x0=None):
        t0 = time.perf_counter()
        mg, level, sp = self.mg, self.level, op.space
        e, s = sp.zeros_like(r), sp.copy(r)
        applied = self.smooth(op, e, s, mg.nu_pre, mg.omega)
        coarse = self.coarse_solver.solve(self.coarse_op, level.fine.restrict(self.transfer, s))
        correction = level.fine.prolong(self.transfer, coarse.x, sp, op.precision)
        sp.axpy(1.0, correction, e)
        sp.axpy(-1.0, op(correction), s)
        applied += 1 + self.smooth(op, e, s, mg.nu_post, mg.omega)
        seconds = time.perf_counter() - t0
        stats = level.stats
        stats["cycles"] += 1
        stats["coarse_iterations"] += coarse.iterations
        stats["coarse_seconds"] += coarse.seconds
        stats["operator_applications"] += applied
        stats["seconds"] += seconds
        return SolveResult(x=e, solver=f"kcycle[level {self.index}]", iterations=1, reason="one K-cycle",
                           precision=op.precision.name, sloppy=op.precision.name,
                           preconditioner_iterations=coarse.iterations, flops=applied * op.flops + coarse.flops,
                           seconds=seconds, timings={f"level {self.index + 1}": coarse.seconds})


def check_levels(levels):
    """None, or an error message for a ``levels`` list that is not a list of {block, n_vec} tables."""
    if not isinstance(levels, list) or not levels:
        return "expected a non-empty list of tables {block = [bx, by, bz, bt], n_vec = n}"
    for i, spec in enumerate(levels):
        if not isinstance(spec, dict) or set(spec) != {"block", "n_vec"}:
            return f"level {i}: expected a table with exactly the keys block and n_vec, got {spec!r}"
        block, n_vec = spec["block"], spec["n_vec"]
        if not (isinstance(block, list) and len(block) == 4 and all(isinstance(b, int) and b >= 1 for b in block)):
            return f"level {i}: block must be 4 positive integers [bx, by, bz, bt], got {block!r}"
        if not (isinstance(n_vec, int) and n_vec >= 1):
            return f"level {i}: n_vec must be a positive integer, got {n_vec!r}"
    return None


class Multigrid(Solver):
    """The registered ``multigrid`` solver (module doc): its keys, the hierarchy :meth:`setup` builds, and one
    K-cycle per :meth:`solve`. A solve's record counts the cycle as 1 iteration; per-level counts and times
    (cycles, coarse GCR iterations, fine operator applications, seconds, coarse storage) accumulate in
    ``hierarchy.levels[i].stats``."""

    name = "multigrid"
    description = "adaptive aggregation multigrid K-cycle (a preconditioner for gcr; needs setup(fields))"
    params = {
        "levels": Param(ListOf(dict), [{"block": [4, 4, 4, 4], "n_vec": 24}], "coarsenings, finest first: tables "
                        "{block = [bx, by, bz, bt], n_vec = n}", check=check_levels),
        "nu_pre": Param(int, 0, "pre-smoothing steps", check=lambda v: None if v >= 0 else "must be >= 0"),
        "nu_post": Param(int, 4, "post-smoothing steps", check=lambda v: None if v >= 0 else "must be >= 0"),
        "smoother": Param(str, "evenodd", "smoothing of the finest level on the even-odd Schur system or on the "
                          "full system", choices=("evenodd", "full")),
        "smoother_kind": Param(str, "mr", "the smoothing steps: MR (over-relaxed by omega) or GCR without restart "
                               "(stronger where the spectrum surrounds the origin, near and past the critical "
                               "kappa; its orthogonalization costs more per step)", choices=("mr", "gcr")),
        "omega": Param(float, 0.85, "MR over-relaxation of the smoother (MR only)",
                       check=lambda v: None if 0 < v < 2 else "must lie in (0, 2)"),
        "coarse_tol": Param(float, 0.25, "relative residual of each coarse solve (GCR, or the coarsest LU's refinement)",
                            check=lambda v: None if 0 < v < 1 else "must lie in (0, 1)"),
        "coarse_maxiter": Param(int, 100, "iterations of each coarse GCR solve at most"),
        "coarse_nkrylov": Param(int, 16, "Krylov vectors of the coarse GCR before a restart"),
        "coarse_precision": Param(str, "single", "storage of the coarse operators and fields",
                                  choices=tuple(COARSE_PRECISIONS)),
        "setup_tol": Param(float, 5e-6, "relative residual of the near-null vector relaxation"),
        "setup_maxiter": Param(int, 20, "BiCGstab iterations of each near-null vector at most (more do not "
                               "make the vectors better)"),
        "null_precision": Param(str, "double", "sloppy precision of the setup's BiCGstab (reliable updates to "
                                "setup_tol in double; single is faster, but its rounding, amplified by BiCGstab, "
                                "makes setups on different process grids differ by more than double's 1e-9)",
                                choices=tuple(COARSE_PRECISIONS)),
        "seed": Param(int, 0, "seed of the random starts of the near-null vectors"),
        "coarsest": Param(str, "auto", "the coarsest level's solver: the dense fp32 LU with iterative refinement to "
                          f"coarse_tol (lu), GCR to coarse_tol (gcr), or auto: lu up to {LU_MAX_DOF} global dofs",
                          choices=("auto", "lu", "gcr")),
        "setup": Param(Table(SETUP_FILES), None, "persistence of the setup: {save = path, load = path, refresh = N}"),
    }

    def __init__(self, levels=None, nu_pre=0, nu_post=4, smoother="evenodd", smoother_kind="mr", omega=0.85,
                 coarse_tol=0.25, coarse_maxiter=100, coarse_nkrylov=16, coarse_precision="single", setup_tol=5e-6,
                 setup_maxiter=20, null_precision="double", seed=0, coarsest="auto", setup=None, **kw):
        levels = levels if levels is not None else self.params["levels"].default
        problem = check_levels(levels)
        if problem:
            raise DeckError(problem, key="levels")
        super().__init__(levels=levels, nu_pre=nu_pre, nu_post=nu_post, smoother=smoother,
                         smoother_kind=smoother_kind, omega=omega, coarse_tol=coarse_tol,
                         coarse_maxiter=coarse_maxiter, coarse_nkrylov=coarse_nkrylov,
                         coarse_precision=coarse_precision, setup_tol=setup_tol, setup_maxiter=setup_maxiter,
                         null_precision=null_precision, seed=seed, coarsest=coarsest, **kw)
        self.files = dict(setup or {})        # not self.setup: that is the method
        self.hierarchy, self.cycle, self.note = None, None, None

    @classmethod
    def validate_config(cls, cfg, registry):
        """Every key is checked by its Param (there is no ``precision`` key: the K-cycle works in the precision
        of the operator it is given, the coarse levels in ``coarse_precision``); a setup to load must exist (or be
        the save target too), one to save must not (unless it is the one loaded), and a refresh needs a load."""
        files = cfg["setup"] or {}
        load, save = files.get("load"), files.get("save")
        if load and load != save and not Path(load).is_file():
            return ("setup.load", (f"file not found: {load} (only a load that is also the save target may be missing: "
                                   "the first run makes it)"))
        if save and save != load and Path(save).exists():
            return ("setup.save", (f"{save} exists; a saved setup is never replaced (remove it, choose another name, "
                                   "or load it too: load = save keeps one file current)"))
        if files.get("refresh") is not None and not load:
            return ("setup.refresh", "refreshes a loaded setup: give setup.load too")
        return None

    def coarsest_solver(self, op):
        """"lu" or "gcr" for the coarsest operator ``op`` (``coarsest``; "auto": lu up to LU_MAX_DOF global dofs)."""
        if self.coarsest != "auto":
            return self.coarsest
        return "lu" if op.lattice.volume * op.dofs <= LU_MAX_DOF else "gcr"

    def setup_parameters(self):
        """The keys that determine a setup (a saved one made with others is not used), as its file records them."""
        return {"levels": [{"block": [int(b) for b in spec["block"]], "n_vec": int(spec["n_vec"])}
                           for spec in self.levels],
                "setup_tol": float(self.setup_tol), "setup_maxiter": int(self.setup_maxiter),
                "null_precision": self.null_precision, "seed": int(self.seed)}

    def setup(self, fields):
        """Build the hierarchy below ``fields`` (a WilsonFields) once, or take it from ``setup.load`` (:mod:`.reuse`)
        and write it to ``setup.save``; later solves reuse it. Returns it."""
        t0 = time.perf_counter()
        load, save = self.files.get("load"), self.files.get("save")
        parameters = self.setup_parameters()
        identity = operator_identity(WilsonLevel(fields)) if load or save else None
        saved, refresh, self.note = choose(self.files, fields.lattice, parameters, identity)
        file_seconds = time.perf_counter() - t0
        maxiter = self.files["refresh"] if refresh else self.setup_maxiter
        sloppy = "same" if self.null_precision == "double" else self.null_precision
        solver = BiCGstab(tol=self.setup_tol, maxiter=maxiter, sloppy=sloppy) if saved is None or refresh else None
        self.hierarchy = Hierarchy(fields, self.levels, solver, self.seed, saved)
        if save and (self.hierarchy.origin != "loaded" or save != load):
            file_seconds += write_setup(save, self.hierarchy, parameters, identity, replace=save == load)
        self.hierarchy.file_seconds = file_seconds
        self.cycle = KCycle(self, 0)
        return self.hierarchy

    def solve(self, op, b, x0=None):
        """One K-cycle z = K b on ``op`` (the fine operator, in the precision GCR's preconditioner asks)."""
        if self.cycle is None:
            raise HpcmixError("multigrid: no setup; call setup(fields) with the fine operator's WilsonFields first")
        return self.cycle.solve(op, b)
