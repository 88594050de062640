"""The input deck: TOML, validated completely before any work starts.

    [run]      output, backend, grid, plugins, overwrite
    [lattice]  dims = [X, Y, Z, T], boundary = [bx, by, bz, bt]
    [[stage]]  name, kind, and the keys the stage kind declares

Input paths are relative to the deck's folder; ``output`` is relative to the working directory.
Every error names the deck file, the stage and the key (a :class:`~hpcmix.errors.DeckError`); all the
errors of a deck are reported together (:class:`~hpcmix.errors.DeckErrors`): every key of every stage is
checked, and the checks that need the lattice run where the lattice and the stages are valid.
"""

import re
import sys
from pathlib import Path

from .backends import DEFAULT_BACKEND
from .comm.grid import auto_grid, check_grid
from .errors import DeckError, FormatError, HpcmixError, combined
from .io.results import output_problem
from .params import ListOf, Param, Validator
from .registry import PluginError, get_registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RUN_PARAMS = {
    "output": Param(str, doc="results file (HDF5), relative to the working directory"),
    "backend": Param(str, DEFAULT_BACKEND, "backend that runs the kernels (see `hpcmix info`); default numba "
                     "where it imports (compiled, multithreaded kernels), else numpy"),
    "grid": Param((ListOf(int, 4), str), "auto", "MPI process grid [Px, Py, Pz, Pt], or 'auto'"),
    "plugins": Param(ListOf(str), [], "extra plugin modules to load on every rank"),
    "overwrite": Param(bool, False, "replace an existing output file"),
    "name": Param(str, "", "a name for the run (stored in the results)"),
    "checkpoint": Param(bool, True, "keep finished solves in <output>.checkpoint.h5 until the run succeeds, so "
                        "that hpcmix run --resume continues a failed run"),
    "checkpoint_seconds": Param(float, 300.0, "also keep a running solve's solution there at most this often (at its "
                                "reliable updates or restarts), to restart it from (0: finished solves only)",
                                check=lambda s: None if s >= 0 and s == s else f"must be >= 0, got {s}"),
    "progress_seconds": Param(float, 10.0, "rank 0 reports where a running solve stands at most this often "
                              "(0: never; hpcmix run --quiet: never)",
                              check=lambda s: None if s >= 0 and s == s else f"must be >= 0, got {s}"),
}
LATTICE_PARAMS = {
    "dims": Param((ListOf(int, 4), str), "from_file",
                  "global extents [X, Y, Z, T]; default: from the first load_gauge stage's file"),
    "boundary": Param(ListOf(float, 4), [1.0, 1.0, 1.0, -1.0], "fermion boundary phases (antiperiodic in t)"),
}
STAGE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


class StageSpec:
    def __init__(self, name, kind, cls, cfg):
        self.name, self.kind, self.cls, self.cfg = name, kind, cls, cfg


class Deck:
    """A validated deck. ``load`` raises DeckError (the same on every rank) on any problem."""

    def __init__(self, path, text, run, dims, boundary, stages, registry, grid):
        self.path, self.text = path, text
        self.base_dir = path.parent
        self.run, self.dims, self.boundary = run, dims, boundary
        self.stages, self.registry, self.grid = stages, registry, grid

    @classmethod
    def load(cls, path, *, nranks=1, overwrite=False, comm=None):
        path = Path(path)
        file = str(path)
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise DeckError(f"cannot read deck: {exc.strerror or exc}", file=file) from None
        except UnicodeDecodeError as exc:
            raise DeckError(f"not UTF-8 text (as TOML must be): byte {exc.start} is {exc.object[exc.start]:#04x}",
                            file=file) from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DeckError(f"not valid TOML: {exc}", file=file) from None
        except RecursionError:
            raise DeckError("not valid TOML: arrays or tables nested too deeply for the reader", file=file) from None
        errors = [DeckError("unknown section; a deck has [run], [lattice] and [[stage]]", file=file, key=k)
                  for k in raw if k not in ("run", "lattice", "stage")]
        plugin_modules = raw.get("run", {}).get("plugins", []) if isinstance(raw.get("run"), dict) else []
        if not isinstance(plugin_modules, list) or not all(isinstance(m, str) for m in plugin_modules):
            plugin_modules = []         # [run] plugins is not a list of names: its validation says so
        try:
            registry = get_registry(tuple(plugin_modules), comm=comm)
        except PluginError as exc:
            if not exc.from_deck:
                raise               # an installed plugin's fault, not the deck's
            raise combined(errors + [DeckError(str(exc), file=file, stage="run", key="plugins")]) from None
        v = Validator(registry, file=file, base_dir=path.parent)
        run = _collect(errors, lambda: cls._run(v, raw.get("run", {}), overwrite))
        lattice = _collect(errors, lambda: v.table(LATTICE_PARAMS, raw.get("lattice", {}), stage="lattice"))
        stages_raw = raw.get("stage", [])
        if not isinstance(stages_raw, list) or not stages_raw:
            errors.append(DeckError("a deck needs at least one [[stage]]", file=file, stage=None, key="stage"))
            stages_raw = []
        stages, names = [], set()
        for i, table in enumerate(stages_raw):
            spec = _collect(errors, lambda: cls._stage(v, table, i, names))
            if spec is not None:
                stages.append(spec)
        dims = grid = None
        if lattice is not None and (len(stages) == len(stages_raw) or lattice["dims"] != "from_file"):
            dims = _collect(errors, lambda: cls._dims(v, lattice, stages, registry))
        if dims is not None and run is not None:
            grid = _collect(errors, lambda: cls._grid(v, run, dims, nranks))
        if grid is not None:
            for spec in stages:
                _collect(errors, lambda: cls._check_lattice(v, spec, dims, grid, registry))
        if errors:
            raise combined(errors)
        return cls(path, text, run, dims, lattice["boundary"], stages, registry, grid)

    @staticmethod
    def _run(v, table, overwrite):
        run = v.table(RUN_PARAMS, table, stage="run")
        errors = []
        if run["backend"] not in v.registry.names("backends"):
            errors.append(v.error(f"unknown backend '{run['backend']}'; registered: "
                                  f"{', '.join(v.registry.names('backends'))}", "run", "backend"))
        problem = _output_problem(run["output"], run["overwrite"] or overwrite)
        if problem:
            errors.append(v.error(problem, "run", "output"))
        if errors:
            raise combined(errors)
        return run

    @staticmethod
    def _grid(v, run, dims, nranks):
        """The process grid: the deck's, or the automatic one for ``nranks``; checked against the lattice."""
        if any(d < 1 for d in dims):
            raise v.error(f"lattice extents must be positive, got {dims}", "lattice", "dims")
        if run["grid"] == "auto":
            try:
                grid = auto_grid(dims, nranks)
            except HpcmixError as exc:
                raise v.error(f"{exc}; choose extents or a rank count that divide, or set [run] grid",
                              "lattice", "dims") from None
        elif isinstance(run["grid"], str):
            raise v.error(f"expected a list of 4 integers or 'auto', got {run['grid']!r}", "run", "grid")
        else:
            grid = run["grid"]
        check_grid(dims, grid, nranks, file=v.file)
        return grid

    @staticmethod
    def _check_lattice(v, spec, dims, grid, registry):
        """The stage's keys fit the lattice; even-odd preconditioning needs even local extents."""
        check = getattr(spec.cls, "check_lattice", None)
        problem = check(spec.cfg, dims, registry) if check is not None else None
        if problem:
            raise v.error(problem[1], spec.name, problem[0])
        local = [d // g for d, g in zip(dims, grid)]
        odd = [f"{'xyzt'[mu]} = {n}" for mu, n in enumerate(local) if n % 2]
        evenodd = getattr(spec.cls, "uses_evenodd", None)
        if odd and evenodd is not None and evenodd(spec.cfg):
            raise v.error(f"even-odd preconditioning needs even local extents, but process grid {grid} "
                          f"gives {', '.join(odd)}; set [run] grid, another rank count, or evenodd = false",
                          spec.name, "evenodd")

    @staticmethod
    def _stage(v, table, i, names):
        where = f"stage[{i}]"
        if not isinstance(table, dict):
            raise v.error("expected a table", where)
        name = table.get("name")
        if not isinstance(name, str) or not STAGE_NAME.fullmatch(name):
            raise v.error("every stage needs a name (letters, digits, _ . -; not starting with a digit)", where, "name")
        if name in names:
            raise v.error("stage name used twice", name, "name")
        names.add(name)
        kind = table.get("kind")
        if not isinstance(kind, str):
            raise v.error(f"missing 'kind'; registered stages: {', '.join(v.registry.names('stages'))}", name, "kind")
        cls = v.registry.lookup("stages", kind, error=lambda m: v.error(m, name, "kind"))
        try:
            cfg = v.table(cls.params, table, stage=name, ignore=("name", "kind"))
            extra = getattr(cls, "validate_config", None)
            problem = extra(cfg, v.registry) if extra is not None else None
            if problem:
                raise v.error(problem[1], name, problem[0])
            inputs = getattr(cls, "check_inputs", None)
            if inputs is not None:
                inputs(cfg, v, name)
        except DeckError:
            v.produced.append((name, cls.produces))     # later references to it are not errors of their own
            raise
        produces = getattr(cls, "produces_for", None)
        v.produced.append((name, produces(cfg) if produces is not None else cls.produces))
        v.configs[name] = cfg
        return StageSpec(name, kind, cls, cfg)

    @staticmethod
    def _dims(v, lattice, stages, registry):
        """Lattice extents from [lattice] dims, else from the first load_gauge stage's file; every
        gauge file must hold a field of the deck's extents."""
        dims = lattice["dims"]
        if isinstance(dims, str) and dims != "from_file":
            raise v.error(f"expected a list of 4 integers, got {dims!r}", "lattice", "dims")
        for s in stages:
            file_dims = getattr(s.cls, "file_dims", None)
            if file_dims is None:
                continue
            try:
                found = list(file_dims(s.cfg, registry))
            except FormatError as exc:
                raise v.error(str(exc), s.name, "file") from None
            except OSError as exc:          # a special file (/proc, a device) that cannot be read as one
                raise v.error(f"cannot read {s.cfg['file']}: {exc.strerror or exc}", s.name, "file") from None
            if dims == "from_file":
                dims = found
            elif found != list(dims):
                raise v.error(f"the file holds a {found} lattice but [lattice] dims = {list(dims)}", s.name, "file")
        if dims == "from_file":
            if any(s.cls.needs_lattice for s in stages):
                raise v.error("missing required key (global extents [X, Y, Z, T])", "lattice", "dims")
            return None
        return list(dims)


def _output_problem(output, overwrite):
    """Why ``output`` cannot be the results file (:func:`~hpcmix.io.results.output_problem`), or None;
    also for names the file system refuses (a NUL character, a name too long, an unknown ~user)."""
    if "\0" in output:
        return "a file name cannot hold a NUL character"
    try:
        return output_problem(output, overwrite)
    except (OSError, RuntimeError) as exc:
        return f"unusable file name {output!r}: {getattr(exc, 'strerror', None) or exc}"


def _collect(errors, action):
    """``action()``, or None with its DeckError added to ``errors`` (a deck's errors are reported together)."""
    try:
        return action()
    except DeckError as exc:
        errors.append(exc)
        return None
