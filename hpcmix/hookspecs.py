"""Hook specifications of the hpcmix plugin system (pluggy, project name ``hpcmix``).

Every hook returns a list of registrable objects, each with a unique ``name`` within its kind.
Built-ins are registered through these same hooks (``hpcmix.registry.BUILTIN_PLUGINS``); third-party packages are
found through the ``hpcmix`` entry-point group, and a deck may name extra plugin modules.
"""

import pluggy

hookspec = pluggy.HookspecMarker("hpcmix")
hookimpl = pluggy.HookimplMarker("hpcmix")

#: The kinds of registrable things, in the order ``hpcmix plugins`` lists them.
KINDS = ("precisions", "backends", "operators", "solvers", "sources", "stages", "formats")


@hookspec
def precisions():
    """Return a list of :class:`hpcmix.precision.Precision` objects (field storage formats and
    dense factorization precisions)."""


@hookspec
def backends():
    """Return a list of backend classes (subclasses of :class:`hpcmix.backends.Backend`)."""


@hookspec
def operators():
    """Return a list of operator classes (``name``, ``params`` and ``build(gauge, cfg, ctx)``)."""


@hookspec
def solvers():
    """Return a list of solver classes (``name``, ``params``; instances applied to an operator give
    its inverse)."""


@hookspec
def sources():
    """Return a list of source classes (``name``, ``params`` and ``build(lattice, cfg, ctx)``)."""


@hookspec
def stages():
    """Return a list of pipeline stage classes (``name``, ``params`` and ``run(ctx, cfg)``)."""


@hookspec
def formats():
    """Return a list of file-format objects (``name``, ``sniff``, ``read``, optionally ``write``)."""
