"""Reading a results file of ``hpcmix run`` (or a failed run's ``.partial.h5``) into plain records.

What is read, by what a stage group holds rather than by its kind (so a failed stage of a partial
file, which has no ``kind`` yet, and plugin stages with the same layout are read too):

- ``/<stage>/solves/<i>``: a Krylov solve (the report attributes of
  :meth:`hpcmix.solvers.base.SolveResult.report` and the ``history`` dataset);
- ``/<stage>`` with a ``history`` dataset and a ``backward_error`` attribute: a dense solve;
- ``/<stage>`` with a ``plaquette`` attribute: a gauge field's plaquette (and link trace);
- ``/<stage>/correlator``: a meson correlator.

Stages come in the order of the deck stored in the file. A file that is missing, not HDF5, or not
written by ``hpcmix run`` is a :class:`~hpcmix.errors.FormatError` naming it.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..errors import FormatError

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


@dataclass
class RunInfo:
    """The run that wrote the file (root attributes); ``finished`` is False for a partial file."""

    path: str
    hpcmix: str
    deck_file: str
    lattice: list
    grid: list
    ranks: int
    backend: str
    seconds: float
    finished: bool


@dataclass
class Solve:
    """One Krylov solve. ``history``: the iterated relative residual after each iteration;
    ``reliable_update_iterations``: the iteration count at each reliable update (None where the file
    predates the record); ``fallbacks``: ``{"from", "to", "iteration", "reason"}`` tables;
    ``timings``: seconds per precision; ``tol``: the stage's solver tolerance (None if unknown)."""

    stage: str
    index: int
    solver: str
    precision: str
    sloppy: str
    iterations: int
    true_residual: float
    converged: bool
    reason: str
    history: np.ndarray
    reliable_updates: int
    reliable_update_iterations: list | None
    restarts: int
    fallbacks: list
    timings: dict
    seconds: float
    gflops: float
    tol: float | None


@dataclass
class DenseSolve:
    """One dense solve: ``history`` is HPL-MxP's scaled residual of the LU solution and after each
    refinement step; ``fallback_step`` the index in it where the float64 LU took over (-1: none, None:
    not recorded); ``times`` seconds per phase."""

    stage: str
    n: int
    factorization: str
    refinement: str
    niters: int
    outer_niters: int
    backward_error: float
    code: int
    code_name: str
    converged: bool
    fell_back: bool
    fallback_step: int | None
    history: np.ndarray
    seconds: float
    times: dict


@dataclass
class Plaquette:
    stage: str
    kind: str
    plaquette: float
    link_trace: float | None


@dataclass
class Correlator:
    stage: str
    channel: str
    values: np.ndarray
    source_time: int

    def effective_mass(self):
        """m_eff(t) = log(C(t) / C(t + 1)) for t = 0 .. T - 2, in lattice units (the plain log form, not
        the cosh form: for a periodic correlator it falls towards 0 near T/2 and turns negative beyond,
        where the backward-moving state dominates). NaN where C(t) / C(t + 1) is not positive."""
        c = np.asarray(self.values, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = c[:-1] / c[1:]
            return np.where(ratio > 0, np.log(np.where(ratio > 0, ratio, 1.0)), np.nan)


@dataclass
class Results:
    run: RunInfo
    solves: list = field(default_factory=list)
    dense: list = field(default_factory=list)
    plaquettes: list = field(default_factory=list)
    correlators: list = field(default_factory=list)


def read_results(path):
    """The :class:`Results` of the file at ``path``."""
    path = Path(path)
    if not path.exists():
        raise FormatError("no such file", file=path)
    if not path.is_file():
        raise FormatError("not a file (a results file of hpcmix run is expected)", file=path)
    if not h5py.is_hdf5(path):
        raise FormatError("not an HDF5 file (a results file of hpcmix run is expected)", file=path)
    try:
        with h5py.File(path, "r") as h5:
            return _read(h5, path)
    except OSError as exc:
        raise FormatError(f"cannot read it: {exc}", file=path) from None


def _read(h5, path):
    if "hpcmix" not in h5.attrs or "deck" not in h5.attrs:
        what = " (an hpcmix gauge field file)" if "gauge" in h5 and "U" in h5["gauge"] else ""
        raise FormatError(f"not a results file of hpcmix run{what}: no 'hpcmix' and 'deck' attributes at its root",
                          file=path)
    out = Results(run=_run_info(h5, path))
    for name in _stage_order(h5):
        group = h5[name]
        kind = str(group.attrs.get("kind", ""))
        if "solves" in group:
            tol = _json(group.attrs.get("solver"), {}).get("tol")
            for key in sorted(group["solves"], key=_as_int):
                out.solves.append(_solve(group["solves"][key], name, _as_int(key), tol, path))
        if isinstance(group.get("history"), h5py.Dataset) and "backward_error" in group.attrs:
            out.dense.append(_dense(group, name, path))
        if "plaquette" in group.attrs:
            trace = group.attrs.get("link_trace")
            out.plaquettes.append(Plaquette(name, kind, float(group.attrs["plaquette"]),
                                            None if trace is None else float(trace)))
        if isinstance(group.get("correlator"), h5py.Dataset):
            ds = group["correlator"]
            out.correlators.append(Correlator(name, str(ds.attrs.get("channel", "")), ds[()].real.astype(np.float64),
                                              int(ds.attrs.get("source_time", 0))))
    return out


def _run_info(h5, path):
    a = h5.attrs
    return RunInfo(path=str(path), hpcmix=str(a["hpcmix"]), deck_file=str(a.get("deck_file", "")),
                   lattice=[int(v) for v in a.get("lattice", [])], grid=[int(v) for v in a.get("process_grid", [])],
                   ranks=int(a.get("ranks", 1)), backend=str(a.get("backend", "")),
                   seconds=float(a.get("seconds", np.nan)), finished="seconds" in a)


def _stage_order(h5):
    """The stage groups in the deck's order (groups the deck does not name follow, sorted)."""
    try:
        names = [s.get("name") for s in tomllib.loads(str(h5.attrs["deck"])).get("stage", [])]
    except (tomllib.TOMLDecodeError, AttributeError):
        names = []
    groups = [k for k in h5 if isinstance(h5[k], h5py.Group)]
    return [n for n in names if n in groups] + sorted(k for k in groups if k not in names)


def _solve(group, stage, index, tol, path):
    a = _Attrs(group, path)
    history = group["history"][()] if "history" in group else np.zeros(0)
    updates = group.attrs.get("reliable_update_iterations")
    return Solve(stage=stage, index=index, solver=a.str("solver"), precision=a.str("precision"),
                 sloppy=a.str("sloppy", a.str("precision")), iterations=a.int("iterations"),
                 true_residual=a.float("true_residual"), converged=bool(a.get("converged")),
                 reason=a.str("reason", ""), history=np.asarray(history, dtype=np.float64),
                 reliable_updates=a.int("reliable_updates", 0),
                 reliable_update_iterations=None if updates is None else [int(i) for i in np.atleast_1d(updates)],
                 restarts=a.int("restarts", 0), fallbacks=_json(a.get("fallbacks", "[]"), []),
                 timings=_json(a.get("timings", "{}"), {}), seconds=a.float("seconds"),
                 gflops=a.float("gflops", 0.0), tol=None if tol is None else float(tol))


def _dense(group, stage, path):
    a = _Attrs(group, path)
    step = group.attrs.get("fallback_step")
    times = {k[:-len("_seconds")]: float(v) for k, v in group.attrs.items()
             if k.endswith("_seconds") and k != "solve_seconds"}
    return DenseSolve(stage=stage, n=a.int("n"), factorization=a.str("factorization"), refinement=a.str("refinement"),
                      niters=a.int("niters"), outer_niters=a.int("outer_niters", 0),
                      backward_error=a.float("backward_error"), code=a.int("code", 0), code_name=a.str("code_name", ""),
                      converged=bool(a.get("converged")), fell_back=bool(a.get("fell_back", False)),
                      fallback_step=None if step is None else int(step),
                      history=np.asarray(group["history"][()], dtype=np.float64),
                      seconds=a.float("solve_seconds", a.float("seconds", np.nan)), times=times)


class _Attrs:
    """A group's attributes read as plain values; a missing required one names the file and group."""

    _MISSING = object()

    def __init__(self, group, path):
        self.group, self.path = group, path

    def get(self, key, default=_MISSING):
        if key in self.group.attrs:
            return self.group.attrs[key]
        if default is self._MISSING:
            raise FormatError(f"group {self.group.name} has no attribute '{key}'", file=self.path)
        return default

    def str(self, key, default=_MISSING):
        value = self.get(key, default)
        return value.decode() if isinstance(value, bytes) else str(value)

    def int(self, key, default=_MISSING):
        return int(self.get(key, default))

    def float(self, key, default=_MISSING):
        return float(self.get(key, default))


def _as_int(key):
    return int(key) if str(key).isdigit() else -1


def _json(text, default):
    try:
        value = json.loads(text) if isinstance(text, (str, bytes)) else default
    except json.JSONDecodeError:
        return default
    return value if isinstance(value, type(default)) else default
