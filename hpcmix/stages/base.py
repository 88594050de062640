"""The stage interface and the context stages run in.

A stage class declares ``name`` (its deck ``kind``), ``params`` (see :mod:`hpcmix.params`) and
``produces`` (the type of the object it leaves under its own name for later stages: "gauge",
"propagator", "correlator", "dense_solution", ... or None) and ``needs_lattice``. ``run(ctx, cfg)`` gets the validated
config and returns that object. Results go to ``ctx.results`` under the group ``/<stage name>``.
"""

from ..fields.layout import unsupported


def backend_fields(dirac, ctx):
    """(``dirac`` on ``ctx.backend``'s even-odd fields, None), or (None, why it has none here: no backend
    fields for this operator, or a lattice the row layout cannot hold)."""
    if not hasattr(dirac, "on_backend"):
        return None, "the operator has no backend fields"
    problem = unsupported(ctx.lattice, dirac.hop_depth)
    return (None, problem) if problem else (dirac.on_backend(ctx.backend), None)


class Stage:
    name = ""
    description = ""
    params = {}
    produces = None
    needs_lattice = True  # False for stages that work without a lattice (dense linear algebra)

    def run(self, ctx, cfg):
        raise NotImplementedError

    # Optional: ``produces_for(cfg)``, the type produced where it depends on the keys;
    # ``uses_evenodd(cfg)``: the stage works on a checkerboard (even local extents needed).
    # Optional, checked before any work: ``check_lattice(cfg, dims, registry)`` returns
    # (key, message) where the stage's parameters do not fit the lattice, else None;
    # ``check_inputs(cfg, validator, stage)`` reads the headers of the files the stage will read
    # (paths relative to the deck's folder) and raises ``validator.error(message, stage, key)``;
    # ``memory(cfg, local_dims, registry)`` -> (working, kept) bytes per rank, with ``memory_rank0`` and
    # ``memory_key``: the deck's memory estimate (:mod:`hpcmix.memory`).


class Context:
    """What a running stage sees: the lattice (None for a deck without one), the registry, the
    backend, the named objects of earlier stages, the results file and the deck."""

    def __init__(self, *, lattice, registry, backend, results, deck, log, checkpoints=None):
        self.lattice = lattice
        self.registry = registry
        self.backend = backend
        self.results = results
        self.deck = deck
        self.objects = {}
        self.log = log
        self.checkpoints = checkpoints   # a run's Checkpoints (hpcmix.io.checkpoints), or None
        self.stage = None  # name of the stage now running
