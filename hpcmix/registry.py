"""The plugin registry: one pluggy manager whose hooks collect every registrable thing.

Order of registration: built-ins (``BUILTIN_PLUGINS``, through the same hooks as everybody else),
then the ``hpcmix`` entry-point group, then modules a deck names in ``[run] plugins``. Two plugins
registering the same name for the same kind is an error, never a silent override. With
``HPCMIX_NO_PLUGINS=1`` no entry point is loaded: hpcmix behaves as if no plugin were installed (to tell a
plugin's fault from hpcmix's; the test suite runs its registry-sensitive tests so).
"""

import importlib
import importlib.metadata
import os

import pluggy

from . import hookspecs
from .errors import HpcmixError
from .hookspecs import KINDS

#: Built-in plugin modules, one per area, each with ``@hookimpl`` functions like any third-party plugin.
BUILTIN_PLUGINS = (
    "hpcmix.precision.plugin",
    "hpcmix.backends.plugin",
    "hpcmix.operators.plugin",
    "hpcmix.solvers.plugin",
    "hpcmix.sources.plugin",
    "hpcmix.stages.plugin",
    "hpcmix.dense.plugin",
    "hpcmix.io.plugin",
)


class Entry:
    """One registered object and where it came from."""

    __slots__ = ("kind", "name", "obj", "origin")

    def __init__(self, kind, name, obj, origin):
        self.kind, self.name, self.obj, self.origin = kind, name, obj, origin


class Registry:
    def __init__(self, pm):
        self.pm = pm
        self._entries = {kind: {} for kind in KINDS}
        origins = {}
        for plugin, dist in pm.list_plugin_distinfo():
            origins[id(plugin)] = f"{dist.project_name} {dist.version} (entry point)"
        for kind in KINDS:
            for impl in getattr(pm.hook, kind).get_hookimpls():
                origin = origins.get(id(impl.plugin), _origin_of(impl.plugin_name))
                for obj in impl.function() or ():
                    name = getattr(obj, "name", None)
                    if not name:
                        raise PluginError(f"plugin {origin}: a registered {kind[:-1]} has no 'name'",
                                          from_deck=origin.startswith("module "))
                    if name in self._entries[kind]:
                        first = self._entries[kind][name].origin
                        raise PluginError(f"{kind[:-1]} '{name}' is registered twice: by {first} and by {origin}",
                                          from_deck=origin.startswith("module "))
                    self._entries[kind][name] = Entry(kind, name, obj, origin)

    def names(self, kind):
        return sorted(self._entries[kind])

    def entries(self, kind):
        return [self._entries[kind][n] for n in self.names(kind)]

    def lookup(self, kind, name, error=None):
        """The object registered as ``name`` of ``kind``; an unknown name lists the available ones."""
        try:
            return self._entries[kind][name].obj
        except KeyError:
            message = f"unknown {kind[:-1]} '{name}'; registered {kind}: {', '.join(self.names(kind))}"
            raise (error(message) if error else HpcmixError(message)) from None

    def fingerprint(self):
        """A sorted description of everything registered, compared across MPI ranks."""
        return tuple((k, e.name, e.origin) for k in KINDS for e in self.entries(k))

    def check_same_on_every_rank(self, comm):
        """Collective: every rank must have registered exactly the same things (a plugin importable
        on some nodes only would otherwise make ranks disagree mid-run)."""
        if comm.size == 1:
            return
        prints = comm.allgather(self.fingerprint())
        for rank, other in enumerate(prints):
            if other != prints[0]:
                extra = sorted(set(other) - set(prints[0]))
                missing = sorted(set(prints[0]) - set(other))
                detail = "; ".join([f"only on rank {rank}: {k[:-1]} '{n}' from {o}" for k, n, o in extra]
                                   + [f"missing on rank {rank}: {k[:-1]} '{n}' from {o}" for k, n, o in missing])
                raise HpcmixError(f"ranks registered different plugins ({detail})", collective=True)


def _origin_of(plugin_name):
    if plugin_name in BUILTIN_PLUGINS:
        return f"hpcmix (built-in, {plugin_name})"
    return f"module {plugin_name}"


class PluginError(HpcmixError):
    """A plugin that cannot be loaded or registered; ``from_deck`` where it is a deck-named module."""

    exit_code = 2

    def __init__(self, message, *, from_deck=False, collective=False):
        super().__init__(message, collective=collective)
        self.from_deck = from_deck


def _load_entry_points(pm):
    """Import every ``hpcmix`` entry point first, so a failing one is named, then let pluggy register
    them (keeping their distribution for the origin)."""
    for ep in importlib.metadata.entry_points(group="hpcmix"):
        try:
            ep.load()
        except Exception as exc:
            dist = f" of {ep.dist.name} {ep.dist.version}" if getattr(ep, "dist", None) else ""
            raise PluginError(f"cannot load plugin '{ep.name}' (entry point {ep.value}{dist}): "
                              f"{type(exc).__name__}: {exc}") from None
    pm.load_setuptools_entrypoints("hpcmix")


def make_plugin_manager(extra_modules=(), entry_points=True):
    """Built-ins, then entry points, then ``extra_modules``; every hook implementation must match a hook
    spec (a misspelt hook name is an error, as in pytest)."""
    pm = pluggy.PluginManager("hpcmix")
    pm.add_hookspecs(hookspecs)
    for mod in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(mod), name=mod)
    if entry_points:
        _load_entry_points(pm)
    for mod in extra_modules:
        try:
            module = importlib.import_module(mod)
        except Exception as exc:
            raise PluginError(f"cannot import plugin module '{mod}': {type(exc).__name__}: {exc}",
                              from_deck=True) from None
        if pm.get_plugin(mod) is None and not pm.is_registered(module):
            pm.register(module, name=mod)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin.__name__ if hasattr(exc.plugin, '__name__') else exc.plugin}: "
                          f"{exc} (the hooks are: {', '.join(KINDS)})", from_deck=True) from None
    return pm


_cache = {}


def get_registry(extra_modules=(), comm=None):
    """The registry with built-ins, entry-point plugins and ``extra_modules`` (cached per set). With
    ``comm`` (collective) every rank learns whether any rank failed to build it, and raises the same
    PluginError: a module importable on some nodes only must not leave ranks waiting."""
    key = tuple(extra_modules)
    if key in _cache:
        return _cache[key]
    error = None
    try:
        installed = os.environ.get("HPCMIX_NO_PLUGINS", "") in ("", "0")
        _cache[key] = Registry(make_plugin_manager(key, entry_points=installed))
    except HpcmixError as exc:
        error = exc
    outcome = None if error is None else (str(error), getattr(error, "from_deck", False))
    outcomes = comm.allgather(outcome) if comm is not None and comm.size > 1 else [outcome]
    failed = [(rank, outcome) for rank, outcome in enumerate(outcomes) if outcome is not None]
    if failed:
        rank, (message, from_deck) = failed[0]
        where = f" (on rank {rank} of {len(outcomes)})" if len(outcomes) > 1 else ""
        _cache.pop(key, None)
        raise PluginError(message + where, from_deck=from_deck, collective=True)
    return _cache[key]
