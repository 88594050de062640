"""Deck fuzzing: mutated and random decks are either valid or one clean DeckError (every line naming the
deck file and the stage or key), never another exception and never a hang; ``hpcmix check`` exits 2
with one line per error and no traceback; mutated decks that validate run.

The in-process checks do what ``hpcmix check`` does (:func:`check`). The examples are
derandomized and bounded, so the suite stays reproducible and quick.
"""

import copy
import math
import os
import signal
import tomllib
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mpi4py import MPI

from cli_helpers import ROOT, hpcmix
from hpcmix import memory
from hpcmix.deck import LATTICE_PARAMS, RUN_PARAMS, Deck
from hpcmix.errors import DeckError
from hpcmix.params import Component, ListOf, PathParam, Ref
from hpcmix.registry import get_registry
from hpcmix.stages.dense_solve import MATRIX_SOURCES, RHS_SOURCES
from toml_writer import dumps

FUZZ = {"deadline": None, "derandomize": True, "database": None, "suppress_health_check": list(HealthCheck)}
HANG_S = 30

#: Small valid decks beside those in inputs/: a dense solve, and a deck with every lattice stage kind.
EXTRA_DECKS = {
    "dense": """
[run]
output = "out/dense.h5"
[[stage]]
name = "dense"
kind = "dense_solve"
matrix = { generator = "randsvd", n = 8, cond = 10.0, mode = 3, seed = 1 }
rhs = { generator = "random", nrhs = 2, seed = 0 }
factorization = "fp32"
refinement = "gmres"
""",
    "stages": """
[run]
output = "out/stages.h5"
backend = "numpy"
grid = "auto"
[lattice]
dims = [4, 4, 4, 4]
[[stage]]
name = "gauge"
kind = "generate_gauge"
start = "random"
[[stage]]
name = "saved"
kind = "save_gauge"
gauge = "gauge"
file = "gauge.lime"
format = "ildg"
precision = "single"
[[stage]]
name = "eig"
kind = "eigensolve"
operator = { kind = "wilson", mass = 0.1 }
n_ev = 4
[[stage]]
name = "prop"
kind = "propagator"
operator = { kind = "wilson", mass = 0.1 }
source = { kind = "wall", t = 1 }
solver = { kind = "gcr", sloppy = "single", preconditioner = { kind = "mr", maxiter = 4 } }
deflation = "eig"
[[stage]]
name = "pion"
kind = "meson"
propagator = "prop"
""",
}


def _absolute(value, base):
    """``value`` with every ``file`` path made absolute against ``base`` (the deck's folder), so the
    mutated decks, written elsewhere, name the same files."""
    if isinstance(value, dict):
        return {k: (str((base / v).resolve()) if k == "file" and isinstance(v, str) else _absolute(v, base))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute(v, base) for v in value]
    return value


def _seed_decks():
    """The decks in inputs/ (their files made absolute) and EXTRA_DECKS (whose files are relative: written)."""
    decks = {p.stem: _absolute(tomllib.loads(p.read_text()), p.parent) for p in sorted((ROOT / "inputs").glob("*.toml"))}
    return dict(decks, **{name: tomllib.loads(text) for name, text in EXTRA_DECKS.items()})


SEEDS = _seed_decks()
REGISTRY = get_registry()
COMPONENT_KINDS = ("operators", "sources", "solvers")
KNOWN_KEYS = sorted({"run", "lattice", "stage", "name", "kind", "generator", *RUN_PARAMS, *LATTICE_PARAMS,
                     *(k for kind in ("stages",) + COMPONENT_KINDS for e in REGISTRY.entries(kind)
                       for k in getattr(e.obj, "params", {})),
                     *(k for table in (*MATRIX_SOURCES.values(), *RHS_SOURCES.values()) for k in table)})
NAMES = ["gauge", "plaq", "prop", "pion", "eig", "dense", "minv", "nothing", "Gauge", "gauge ", "1x", ""]
STRINGS = ["", " ", "auto", "none", "same", "lattice", "from_file", "M", "MdagM", "double", "single", "half",
           "fp32", "hpcmix", "milc", "ildg", "point", "wilson", "cg", "gcr", "gauge", "prop", "gauge\n", "\x00",
           "..", "/", "~", "~no_such_user", "out/", "ﬁle", "ü", "😀", "\u202e", "a" * 300]
SPECIAL_NUMBERS = [0, -1, 1, 2, 3, 12, 2**31, 2**63 - 1, -2**63, 2**63, 10**400, -10**30, 0.0, -0.0, 0.5, -0.5,
                   1e-300, 5e-324, 1e308, -1e308, math.nan, math.inf, -math.inf]

keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=8))
scalars = st.one_of(st.booleans(), st.integers(), st.floats(), st.sampled_from(SPECIAL_NUMBERS),
                    st.text(max_size=10), st.sampled_from(STRINGS + NAMES), st.dates(), st.datetimes(),
                    st.times())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                       st.dictionaries(keys, inner, max_size=4)), max_leaves=10)


# ---- mutations of the valid decks ------------------------------------------------------------------

def _locations(value, path=()):
    """Every (path to a value) in a parsed deck: keys of tables and indices of lists."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        yield path + (k,)
        yield from _locations(v, path + (k,))


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _retyped(value):
    """``value`` in a neighbouring TOML type: the mistakes a user makes."""
    if isinstance(value, bool):
        return [str(value).lower(), int(value), [value]]
    if isinstance(value, int):
        return [float(value) if abs(value) < 2**1000 else 1e300, str(value), -value, value * 10**20, [value], True]
    if isinstance(value, float):
        return [int(value) if math.isfinite(value) else 0, str(value), -value, value * 1e300, [value]]
    if isinstance(value, str):
        return [[value], {"kind": value}, value.upper(), value + "\n", " " + value, value * 50, 1]
    if isinstance(value, list):
        return [value[:-1], value + value, value[::-1], {str(i): v for i, v in enumerate(value)}, [value], "x"]
    if isinstance(value, dict):
        return [list(value.values()), list(value.keys()), {"kind": value}, "x", [value]]
    return [str(value)]


@st.composite
def mutation(draw, doc):
    """Change ``doc`` (in place) in one of the ways a deck goes wrong."""
    locations = list(_locations(doc))
    stages = doc.get("stage") if isinstance(doc.get("stage"), list) else []
    how = draw(st.sampled_from(["replace", "retype", "special", "delete", "add", "empty", "reference",
                                "duplicate", "swap"]))
    if how in ("reference", "duplicate", "swap") and not stages:
        how = "delete"
    if how in ("replace", "retype", "special", "delete", "empty") and not locations:
        how = "add"
    if how == "add":
        tables = [()] + [p for p in locations if isinstance(_get(doc, p), dict)]
        _get(doc, draw(st.sampled_from(tables)))[draw(keys)] = draw(values)
        return
    if how in ("reference", "duplicate", "swap"):
        i = draw(st.integers(0, len(stages) - 1))
        if how == "reference" and isinstance(stages[i], dict):
            others = [s.get("name") for s in stages if isinstance(s, dict) and isinstance(s.get("name"), str)]
            key = draw(st.sampled_from(["gauge", "propagator", "deflation", "name"]))
            stages[i][key] = draw(st.sampled_from(others + NAMES))
        elif how == "duplicate":
            twin = copy.deepcopy(stages[i])
            if isinstance(twin, dict) and draw(st.booleans()):
                twin["name"] = f"{twin.get('name')}_twin"
            stages.insert(draw(st.integers(0, len(stages))), twin)
        else:
            j = draw(st.integers(0, len(stages) - 1))
            stages[i], stages[j] = stages[j], stages[i]
        return
    path = draw(st.sampled_from(locations))
    parent, key = _get(doc, path[:-1]), path[-1]
    if how == "delete":
        del parent[key]
    elif how == "empty":
        parent[key] = draw(st.sampled_from([{}, [], ""]))
    elif how == "special":
        parent[key] = draw(st.sampled_from(SPECIAL_NUMBERS))
    elif how == "retype":
        parent[key] = draw(st.sampled_from(_retyped(parent[key])))
    else:
        parent[key] = draw(values)


@st.composite
def mutated_decks(draw):
    doc = copy.deepcopy(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 3))):
        draw(mutation(doc))
    return doc


# ---- random decks from the declared parameters ------------------------------------------------------

FILES = [str(p) for p in sorted((ROOT.parent / "shared" / "data").rglob("*")) if p.is_file()][:6]
PATHS = FILES + ["", ".", "/", "no_such_file.h5", "~no_such_user/f", "x" * 300, "/dev/null", "/proc/self/status",
                 str(ROOT / "inputs"), str(ROOT / "inputs" / "quickstart.toml")]


def sometimes(other, usual, one_in):
    """``other`` about once in ``one_in`` draws, else ``usual``."""
    return st.integers(0, one_in - 1).flatmap(lambda i: other if i == 1 else usual)


def mostly(typed):
    """``typed``, and any value about once in 20 draws."""
    return sometimes(values, typed, 20)


def _param_value(t, refs, depth):
    """A value for a parameter of declared type ``t`` (``refs``: the names of the earlier stages)."""
    if isinstance(t, tuple):
        return st.one_of(*(_param_value(x, refs, depth) for x in t))
    if isinstance(t, Component):
        return component(t.registry_kind, refs, depth + 1) if depth < 3 else st.sampled_from(REGISTRY.names(t.registry_kind))
    if isinstance(t, ListOf):
        return st.lists(_param_value(t.item, refs, depth), min_size=t.length or 0, max_size=t.length or 6)
    if isinstance(t, Ref):
        return sometimes(st.sampled_from(NAMES), st.sampled_from(refs), 10) if refs else st.sampled_from(NAMES)
    if isinstance(t, PathParam):
        return st.sampled_from(PATHS)
    if t is dict:
        return st.one_of(source_table(MATRIX_SOURCES, refs), source_table(RHS_SOURCES, refs), st.just({}))
    return {int: sometimes(st.sampled_from(SPECIAL_NUMBERS), st.integers(1, 8), 10),
            float: sometimes(st.one_of(st.sampled_from(SPECIAL_NUMBERS), st.floats()), st.floats(0.01, 0.2), 10),
            str: st.sampled_from(STRINGS + refs), bool: st.booleans()}.get(t, values)


def table_for(params, refs=(), depth=0):
    """A table with the required keys of ``params`` and a random subset of the others, mostly of their type."""
    refs = list(refs)
    entries = {k: mostly(st.sampled_from(p.choices) if p.choices else _param_value(p.type, refs, depth))
               for k, p in params.items()}
    return st.fixed_dictionaries({k: v for k, v in entries.items() if params[k].required},
                                 optional={k: v for k, v in entries.items() if not params[k].required})


def component(kind, refs, depth):
    """A ``{kind = ..., ...}`` table of a registered entry of ``kind``."""
    return st.sampled_from(REGISTRY.names(kind)).flatmap(
        lambda name: table_for(REGISTRY.lookup(kind, name).params, refs, depth).map(lambda t: {"kind": name, **t}))


def source_table(sources, refs):
    """A dense_solve ``matrix`` or ``rhs`` table."""
    return st.sampled_from(sorted(sources)).flatmap(lambda kind: table_for(sources[kind], refs).map(
        lambda t: dict(t, **({} if kind == "file" else {"generator": kind}))))


@st.composite
def random_decks(draw):
    """Stages of registered kinds with random subsets of their declared keys, referring to earlier stages."""
    stages = []
    for i in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from((["generate_gauge", "load_gauge", "dense_solve"] if i == 0 else [])
                                    + REGISTRY.names("stages")))
        params = REGISTRY.lookup("stages", kind).params
        stages.append({"name": f"s{i}", "kind": kind, **draw(table_for(params, [s["name"] for s in stages]))})
    run = draw(table_for(RUN_PARAMS))
    doc = {"run": draw(mostly(st.just(dict(run, output="out/random.h5", overwrite=True)))), "stage": stages}
    lattice = draw(st.one_of(st.none(), table_for(LATTICE_PARAMS),
                             st.lists(st.sampled_from([2, 4, 6]), min_size=4, max_size=4).map(lambda d: {"dims": d})))
    return doc if lattice is None else dict(doc, lattice=lattice)


# ---- the property ----------------------------------------------------------------------------------

@contextmanager
def _time_limit(seconds):
    def hang(signum, frame):
        raise AssertionError(f"deck validation still running after {seconds} s")
    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def check(path):
    """What ``hpcmix check`` does on one rank: validate the deck, estimate its memory, refuse a deck that
    does not fit."""
    deck = Deck.load(path)
    memory.table(memory.estimate(deck, 1))
    memory.refuse_if_too_big(deck, MPI.COMM_WORLD, 1)


def assert_clean(path):
    """``check(path)`` passes, or raises DeckError each of whose lines names the deck file and the stage
    or key (a deck that cannot be read or parsed has neither); anything else propagates."""
    try:
        with _time_limit(HANG_S):
            check(path)
    except DeckError as exc:
        for error in getattr(exc, "errors", [exc]):
            line = str(error)
            assert line.startswith(f"{path}: "), line
            unparsed = line.startswith(tuple(f"{path}: {s}" for s in ("cannot read deck", "not valid TOML", "not UTF-8")))
            assert unparsed or "stage '" in line or "key '" in line, line


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """An empty working folder (the decks' outputs are relative to it)."""
    path = tmp_path_factory.mktemp("fuzz")
    old = os.getcwd()
    os.chdir(path)
    yield path
    os.chdir(old)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_decks_are_valid(folder, name):
    """The decks the mutations start from are valid (where their data is here)."""
    deck = folder / f"{name}.toml"
    deck.write_text(dumps(SEEDS[name]))
    if any(Path(p).is_absolute() and not Path(p).exists() for p in _files(SEEDS[name])):
        pytest.skip("the deck's data files are not here")
    check(deck)


def _files(value):
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "file"] + [f for v in value.values() for f in _files(v)]
    return [f for v in value for f in _files(v)] if isinstance(value, list) else []


@settings(max_examples=1500, **FUZZ)
@given(doc=mutated_decks())
def test_mutated_decks(folder, doc):
    deck = folder / "mutated.toml"
    deck.write_text(dumps(doc))
    assert_clean(deck)


@settings(max_examples=400, **FUZZ)
@given(doc=random_decks())
def test_random_decks(folder, doc):
    deck = folder / "random.toml"
    deck.write_text(dumps(doc))
    assert_clean(deck)


@st.composite
def mangled_texts(draw):
    """A seed deck's text with characters or lines inserted, deleted or cut, or bytes that are not UTF-8."""
    data = dumps(SEEDS[draw(st.sampled_from(sorted(SEEDS)))]).encode()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data)))
        j = draw(st.integers(i, min(len(data), i + 40)))
        data = data[:i] + draw(st.one_of(st.binary(max_size=8), st.text(max_size=8).map(str.encode),
                                         st.sampled_from([b"\n", b"[", b"]]", b"=", b'"', b"\xff", b"\xc3"]))) + data[j:]
    return data


@settings(max_examples=600, **FUZZ)
@given(data=mangled_texts())
def test_mangled_texts(folder, data):
    deck = folder / "mangled.toml"
    deck.write_bytes(data)
    assert_clean(deck)


# ---- end to end: the hpcmix command --------------------------------------------------------------

QUICK = dict(SEEDS["quickstart"], run={"output": "out.h5", "backend": "numpy"})

def _prop_with(**keys):
    """The quickstart deck with its propagator stage changed."""
    stages = QUICK["stage"]
    return dumps(dict(QUICK, stage=[*stages[:2], dict(stages[2], **keys), stages[3]])).encode()


def _eig_with(**keys):
    """The seed deck "stages" (generate, save, eigensolve, ...) with its eigensolve stage changed, up to it."""
    stages = SEEDS["stages"]["stage"]
    return dumps(dict(SEEDS["stages"], stage=[*stages[:2], dict(stages[2], **keys)])).encode()


#: Decks the fuzzing found tracebacks for (or runs that crashed after check passed), and the key named.
BAD = {
    "not_utf8": (b'[run]\noutput = "caf\xe9.h5"\n', None),
    "nested_too_deep": (b"x = " + b"[" * 3000 + b"]" * 3000 + b"\n", None),
    "empty_key": (dumps(dict(QUICK, **{"": 1})).encode(), "key ''"),
    "kind_is_a_table": (_prop_with(operator={"kind": {"kind": "wilson"}, "kappa": 0.12}), "operator.kind"),
    "generator_is_a_table": (dumps({"run": {"output": "out.h5"}, "stage": [dict(
        SEEDS["dense"]["stage"][0], matrix={"generator": {"kind": "randsvd"}, "n": 8})]}).encode(), "matrix.generator"),
    "plugins_not_names": (dumps(dict(QUICK, run=dict(QUICK["run"], plugins=[[1]]))).encode(), "plugins[0]"),
    "integer_beyond_64_bits": (_prop_with(operator={"kind": "wilson", "kappa": 10**400}), "operator.kappa"),
    "nan_kappa": (_prop_with(operator={"kind": "wilson", "kappa": math.nan}), "operator.kappa"),
    "infinite_kappa": (_prop_with(operator={"kind": "wilson", "kappa": 1e300}), "operator.kappa"),
    "negative_seed": (dumps(dict(QUICK, stage=[dict(QUICK["stage"][0], seed=-1), *QUICK["stage"][1:]])).encode(),
                      "key 'seed'"),
    "name_with_newline": (dumps(dict(QUICK, stage=[dict(QUICK["stage"][0], name="gauge\n"), *QUICK["stage"][1:]]))
                          .encode(), "key 'name'"),
    "nul_in_output": (dumps(dict(QUICK, run={"output": "out\x00.h5"})).encode(), "key 'output'"),
    "gauge_file_saved_twice": (dumps(dict(SEEDS["stages"], stage=[*SEEDS["stages"]["stage"][:2], dict(
        SEEDS["stages"]["stage"][1], name="again")])).encode(), "stage 'again': key 'file'"),
    "too_many_rhs": (dumps({"run": {"output": "out.h5"}, "stage": [dict(
        SEEDS["dense"]["stage"][0], rhs={"generator": "random", "nrhs": 2**62})]}).encode(), "rhs.nrhs"),
}


BAD.update({
    "empty_deflation_table": (_prop_with(deflation={}), "key 'deflation"),
    "gcr_without_krylov_vectors": (_prop_with(solver={"kind": "gcr", "nkrylov": 0}), "key 'solver.nkrylov'"),
    "nan_chebyshev_bound": (_eig_with(chebyshev={"degree": 8, "a_min": math.nan}), "chebyshev"),
})


@pytest.mark.parametrize("case", sorted(BAD))
def test_check_exits_2_without_a_traceback(tmp_path, case):
    data, key = BAD[case]
    deck = tmp_path / f"{case}.toml"
    deck.write_bytes(data)
    result = hpcmix("check", deck, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"hpcmix: error: {deck}: ") and "Traceback" not in result.stderr, result.stderr
    assert key is None or key in result.stderr, result.stderr


#: Mutations that keep a deck valid: reordered keys, unicode text, other kinds and choices, extreme but
#: meaningful numbers, a stage repeated under another name.
GOOD = {
    "quickstart": dict(QUICK, run={"name": "Läuft 😀 ﬁne", "backend": "numpy", "output": "ü.h5"}, lattice={
        "boundary": [1, 1, 1, -1], "dims": [4, 4, 4, 4]}, stage=[
        dict(QUICK["stage"][0], seed=2**63 - 1, start="random"), QUICK["stage"][1],
        dict(QUICK["stage"][2], evenodd=False, source={"t": 3, "kind": "wall"},
             solver={"kind": "bicgstab", "tol": 1e-8, "maxiter": 2**63 - 1}),
        dict(QUICK["stage"][2], name="prop.2", solve="MdagM", save_solution=False), QUICK["stage"][3]]),
    "dense": {"stage": [dict(SEEDS["dense"]["stage"][0], name="_", matrix={"n": 1, "generator": "hpl_mxp"},
                             max_iters=0, tol=0.5)], "run": {"output": "dense.h5"}},
}


@pytest.mark.parametrize("case", sorted(GOOD))
def test_valid_mutations_run(tmp_path, case):
    deck = tmp_path / f"{case}.toml"
    deck.write_text(dumps(GOOD[case]))
    result = hpcmix("run", deck, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "results written to" in result.stdout
