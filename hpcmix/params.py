"""Declared parameters: every stage, operator, solver and format states its deck keys in one place.

A component declares ``params = {"key": Param(type, default, doc, unit=...)}``. :func:`validate`
checks a deck table against that declaration before any work starts and returns a dict with every
default filled in. Nested components (``operator = {kind = "wilson", ...}``) are validated against
the registry entry that their ``kind`` names, recursively.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DeckError, combined

REQUIRED = object()
#: TOML integers are 64-bit (tomllib reads longer ones); a deck's integers must fit.
INT64 = (-2**63, 2**63 - 1)


@dataclass(frozen=True)
class Component:
    """A nested table ``{kind = NAME, ...}`` naming an entry of registry kind ``registry_kind``;
    a bare string ``NAME`` is shorthand for ``{kind = NAME}``."""

    registry_kind: str


@dataclass(frozen=True)
class ListOf:
    """A list whose items have type ``item`` (and exactly ``length`` of them where given)."""

    item: Any
    length: int | None = None


@dataclass(frozen=True)
class Ref:
    """The name of an earlier stage whose result is of type ``produces`` (e.g. "gauge");
    the default ``LATEST`` means the most recent such stage."""

    produces: str


LATEST = "<latest>"


@dataclass(frozen=True)
class Table:
    """A nested table of declared keys ``{key = value, ...}`` (e.g. ``setup = {save = "mg.h5"}``): each key is
    validated by its Param as a top-level one is (defaults filled in, paths resolved against the deck's folder),
    and errors name it as ``outer.key``."""

    params: dict = field(hash=False)


@dataclass(frozen=True)
class PathParam:
    """A file path, relative to the deck's folder; ``must_exist`` checks it before the run."""

    must_exist: bool = True


@dataclass(frozen=True)
class Param:
    type: Any
    default: Any = REQUIRED
    doc: str = ""
    unit: str = ""
    choices: tuple | None = None
    check: Any = field(default=None, compare=False)  # callable(value) -> error string or None

    @property
    def required(self):
        return self.default is REQUIRED


def type_name(t):
    if isinstance(t, Component):
        return f"table with kind = <one of the registered {t.registry_kind}>"
    if isinstance(t, ListOf):
        n = f"{t.length} " if t.length else ""
        return f"list of {n}{type_name(t.item)}"
    if isinstance(t, PathParam):
        return "path"
    if isinstance(t, Table):
        return f"table of {', '.join(t.params)}"
    if isinstance(t, Ref):
        return f"name of an earlier stage giving a {t.produces}"
    if isinstance(t, tuple):
        return " or ".join(type_name(x) for x in t)
    return {int: "integer", float: "number", str: "string", bool: "boolean", dict: "table"}.get(t, str(t))


def _same_shape(t, v):
    """Whether the deck value ``v`` has the TOML shape of type ``t`` (a table for a component or
    dict, a list for ListOf, a string for str, paths and references, a number for int and float)."""
    if isinstance(t, (Component, Table)) or t is dict:
        return isinstance(v, dict)
    if isinstance(t, ListOf):
        return isinstance(v, list)
    if isinstance(t, (PathParam, Ref)) or t is str:
        return isinstance(v, str)
    if t in (int, float):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return False


class Validator:
    """Validates deck tables; carries where the table is (file, stage) for the error messages."""

    def __init__(self, registry, file=None, base_dir=None):
        self.registry = registry
        self.file = file
        self.base_dir = Path(base_dir) if base_dir is not None else Path(".")
        self.produced = []  # (stage name, type) of the stages validated so far, in deck order
        self.configs = {}   # stage name: its validated table, for the stages validated so far

    def error(self, message, stage=None, key=None):
        return DeckError(message, file=self.file, stage=stage, key=key)

    def table(self, params, table, *, stage=None, prefix="", ignore=()):
        """Validate ``table`` against ``params``; return a new dict with defaults filled in. Every bad key
        is reported (a DeckErrors where there are several)."""
        if not isinstance(table, dict):
            raise self.error(f"expected a table, got {type(table).__name__}", stage, prefix.rstrip(".") or None)
        allowed = ", ".join(sorted(params)) or "(none)"
        errors = [self.error(f"unknown key; allowed keys are: {allowed}", stage, prefix + k)
                  for k in table if k not in params and k not in ignore]
        out = {}
        for key, p in params.items():
            try:
                out[key] = self._entry(p, table, key, stage, prefix + key)
            except DeckError as exc:
                errors.append(exc)
        if errors:
            raise combined(errors)
        return out

    def _entry(self, p, table, key, stage, full):
        """The validated value of ``table[key]`` for parameter ``p`` (its default where absent);
        ``full`` is the key as errors name it."""
        if key not in table and isinstance(p.type, Ref) and p.default is LATEST:
            return self.ref(p.type, None, stage=stage, key=full)
        if key not in table:
            if p.required:
                raise self.error(f"missing required key ({type_name(p.type)}: {p.doc})", stage, full)
            return p.default
        value = self.value(p.type, table[key], stage=stage, key=full)
        if p.choices is not None and value not in p.choices:
            raise self.error(f"{value!r} is not one of {', '.join(map(repr, p.choices))}", stage, full)
        if p.check is not None:
            problem = p.check(value)
            if problem:
                raise self.error(problem, stage, full)
        if _non_finite(value):
            raise self.error(f"expected {'finite numbers' if isinstance(value, list) else 'a finite number'}, got "
                             f"{value!r}", stage, full)
        return value

    def value(self, t, v, *, stage, key):
        if isinstance(t, tuple):
            errors = []
            for alternative in t:
                try:
                    return self.value(alternative, v, stage=stage, key=key)
                except DeckError as exc:
                    errors.append((alternative, exc))
            shaped = [exc for alternative, exc in errors if _same_shape(alternative, v)]
            if len(shaped) == 1:        # the alternative of the value's own shape says what is wrong inside
                raise shaped[0]
            raise self.error(f"expected {type_name(t)}, got {type(v).__name__} {v!r}", stage, key)
        if isinstance(t, Component):
            return self.component(t.registry_kind, v, stage=stage, key=key)
        if isinstance(t, Ref):
            if not isinstance(v, str):
                raise self.error(f"expected {type_name(t)}, got {type(v).__name__} {v!r}", stage, key)
            return self.ref(t, v, stage=stage, key=key)
        if isinstance(t, ListOf):
            if not isinstance(v, list):
                raise self.error(f"expected {type_name(t)}, got {type(v).__name__} {v!r}", stage, key)
            if t.length is not None and len(v) != t.length:
                raise self.error(f"expected {t.length} entries, got {len(v)}", stage, key)
            return [self.value(t.item, x, stage=stage, key=f"{key}[{i}]") for i, x in enumerate(v)]
        if isinstance(t, PathParam):
            return self.path(t, v, stage=stage, key=key)
        if isinstance(t, Table):
            return self.table(t.params, v, stage=stage, prefix=key + ".")
        if t is float:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self.error(f"expected a number, got {type(v).__name__} {v!r}", stage, key)
            return float(self.value(int, v, stage=stage, key=key)) if isinstance(v, int) else v
        if t is int:
            if isinstance(v, bool) or not isinstance(v, int):
                raise self.error(f"expected an integer, got {type(v).__name__} {v!r}", stage, key)
            if not INT64[0] <= v <= INT64[1]:
                raise self.error(f"integer out of range (TOML integers are 64-bit), got {v}", stage, key)
            return v
        if t in (str, bool, dict):
            if not isinstance(v, t) or (t is not bool and isinstance(v, bool)):
                raise self.error(f"expected {type_name(t)}, got {type(v).__name__} {v!r}", stage, key)
            return v
        raise TypeError(f"unsupported parameter type {t!r}")

    def path(self, t, v, *, stage, key):
        """A path, made absolute against the deck's folder; where ``t.must_exist``, an existing file."""
        if not isinstance(v, str):
            raise self.error(f"expected a path string, got {type(v).__name__} {v!r}", stage, key)
        if "\0" in v:
            raise self.error(f"a path cannot hold a NUL character, got {v!r}", stage, key)
        try:
            path = Path(v).expanduser()
            path = path if path.is_absolute() else self.base_dir / path
            exists, folder = path.exists(), path.is_dir()
        except (OSError, RuntimeError) as exc:      # a name too long, an unknown ~user
            raise self.error(f"unusable path {v!r}: {getattr(exc, 'strerror', None) or exc}", stage, key) from None
        if t.must_exist and not exists:
            raise self.error(f"file not found: {path}", stage, key)
        if t.must_exist and folder:
            raise self.error(f"{path} is a directory, not a file", stage, key)
        return str(path)

    def ref(self, t, name, *, stage, key):
        """Resolve a reference to an earlier stage's result of type ``t.produces``."""
        candidates = [n for n, typ in self.produced if typ == t.produces]
        if name is None:
            if not candidates:
                given = ", ".join(f"'{n}' a {typ}" for n, typ in self.produced if typ) or "nothing"
                raise self.error(f"needs a {t.produces} from an earlier stage, and there is none (earlier stages "
                                 f"give: {given})", stage, key)
            return candidates[-1]
        if name not in candidates:
            known = ", ".join(candidates) or "none"
            other = [typ for n, typ in self.produced if n == name]
            what = f"stage '{name}' gives a {other[0]}, not a {t.produces}" if other else \
                f"no earlier stage named '{name}' gives a {t.produces}"
            raise self.error(f"{what} (earlier ones that do: {known})", stage, key)
        return name

    def component(self, kind, v, *, stage, key):
        """Validate a nested component table against the registered entry that its ``kind`` names."""
        if isinstance(v, str):
            v = {"kind": v}
        if not isinstance(v, dict):
            raise self.error(f"expected {type_name(Component(kind))}, got {type(v).__name__} {v!r}", stage, key)
        if not isinstance(v.get("kind"), str):
            what = f"got {type(v['kind']).__name__} {v['kind']!r}" if "kind" in v else "missing 'kind'"
            raise self.error(f"{what}; expected one of the registered {kind}: {', '.join(self.registry.names(kind))}",
                             stage, f"{key}.kind")
        entry = self.registry.lookup(kind, v["kind"], error=lambda m: self.error(m, stage, f"{key}.kind"))
        out = self.table(entry.params, {k: x for k, x in v.items() if k != "kind"}, stage=stage, prefix=key + ".")
        out["kind"] = v["kind"]
        extra = getattr(entry, "validate_config", None)
        if extra is not None:
            problem = extra(out, self.registry)
            if problem:
                bad_key, message = problem
                raise self.error(message, stage, f"{key}.{bad_key}")
        return out


def _non_finite(value):
    """Whether ``value`` (a validated number, or a list of them) holds a NaN or an infinity."""
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, list) and any(_non_finite(x) for x in value)


def describe(params):
    """Rows (key, type, default, unit, doc) for documentation and ``hpcmix plugins -v``; the type of a
    key with ``choices`` lists the allowed values."""
    rows = []
    for key, p in params.items():
        default = "required" if p.required else ("optional" if p.default is None else repr(p.default))
        typ = type_name(p.type) + (f", one of {', '.join(map(repr, p.choices))}" if p.choices else "")
        rows.append((key, typ, default, p.unit, p.doc))
    return rows


def first_difference(a, b, where=""):
    """(key, value in a, value in b) of the first difference between two nested tables (parsed decks, the
    parameters of a saved setup), or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            found = first_difference(a.get(key, "<absent>"), b.get(key, "<absent>"), f"{where}.{key}" if where else key)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if a == b and type(a) is type(b) else (where, a, b)
