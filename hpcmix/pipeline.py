"""Runs a validated deck: builds the lattice and backend, then the stages in order.

Results go to one HDF5 file, written atomically (see :mod:`hpcmix.io.results`), with the deck,
versions, process grid and per-stage timings as metadata.
"""

import platform
import time
from contextlib import contextmanager

import h5py
import numpy as np
from mpi4py import MPI

from . import __version__, watch
from .backends import load_backend
from .comm import collective
from .comm.grid import cores, node_ranks
from .errors import DeckError, HpcmixError, Interrupted
from .io.results import ResultsFile
from .lattice import Lattice
from .memory import refuse_if_too_big
from .io.checkpoints import Checkpoints
from .progress import Progress
from .resume import check_same_deck
from .stages import Context


def versions():
    return {"hpcmix": __version__, "numpy": np.__version__, "h5py": h5py.__version__,
            "mpi": mpi_library(), "python": platform.python_version()}


def mpi_library():
    """'MPICH 5.0.2 (MPI 4.1)' and the like."""
    vendor, version = MPI.get_vendor()
    return f"{vendor} {'.'.join(map(str, version))} (MPI {'.'.join(map(str, MPI.Get_version()))})"


def run_deck(deck, *, overwrite=False, log=None, quiet=False, resume=False):
    """Run every stage of ``deck``; return {stage name: seconds}. Rank 0 reports the progress of long
    solves every ``[run] progress_seconds`` unless ``quiet`` (:mod:`hpcmix.progress`); with ``resume`` the
    checkpoints of an earlier failed run of this deck replace the work they hold (:mod:`hpcmix.resume`)."""
    comm = MPI.COMM_WORLD
    rank = comm.rank
    log = log or (lambda msg: print(msg, flush=True) if rank == 0 else None)
    local_rank, local_ranks = node_ranks(comm)
    refuse_if_too_big(deck, comm, local_ranks)      # before any work (hpcmix.memory)
    lattice = Lattice(deck.dims, deck.grid, comm) if deck.dims is not None else None
    backend = load_backend(deck.registry, deck.run["backend"], local_rank)
    backend.share_cores(local_ranks, cores())
    checkpoints = _checkpoints(deck, lattice, resume, log)
    results = ResultsFile(deck.run["output"], rank=rank, overwrite=overwrite or deck.run["overwrite"])
    meta = dict(versions(), deck=deck.text, deck_file=str(deck.path), run_name=deck.run["name"],
                ranks=comm.size, backend=backend.name)
    if lattice is not None:
        meta.update(lattice=lattice.dims, process_grid=lattice.pg.grid, boundary=deck.boundary)
    collective(comm, lambda: results.open(meta), HpcmixError)
    for stray, partial in results.recovered:
        log(f"{stray}: the results of an earlier run that was killed; kept as {partial}")
    ctx = Context(lattice=lattice, registry=deck.registry, backend=backend, results=results, deck=deck, log=log,
                  checkpoints=checkpoints)
    if lattice is not None:
        log(f"hpcmix {__version__}: lattice {lattice.dims} on {comm.size} rank(s), process grid {lattice.pg.grid}, "
            f"backend {backend.name} ({backend.threads} thread(s) per rank)")
    if local_ranks * backend.threads > cores():
        advice = (f"set NUMBA_NUM_THREADS={max(1, cores() // local_ranks)} (threads per rank)" if backend.threads > 1
                  else "start at most one rank per core")
        log(f"warning: {local_ranks} rank(s) on this node x {backend.threads} {backend.name} thread(s) each on "
            f"{cores()} cores: oversubscribed, which is slow; {advice}")
    timings = {}
    every = deck.run["progress_seconds"]
    reporter = Progress(every) if rank == 0 and every > 0 and not quiet else None
    if reporter is not None:
        watch.watchers.append(reporter)
    try:
        for spec in deck.stages:
            ctx.stage = spec.name
            log(f"[{spec.name}] {spec.kind}")
            watch.reset()
            if reporter is not None:
                reporter.stage = spec.name
            t0 = time.perf_counter()
            with _naming_the_stage(deck, spec):
                ctx.objects[spec.name] = spec.cls().run(ctx, spec.cfg)
            timings[spec.name] = time.perf_counter() - t0
            results.set_attrs(spec.name, {"kind": spec.kind, "seconds": timings[spec.name]})
            log(f"[{spec.name}] done in {timings[spec.name]:.2f} s")
    except BaseException as exc:
        partial = results.abandon()
        if isinstance(exc, Interrupted):     # its one message names the partial file
            exc.partial = partial
        elif partial is not None:
            log(f"partial results kept in {partial}")
        raise
    finally:
        if reporter is not None:
            watch.watchers.remove(reporter)
    results.set_attrs("/", {"seconds": sum(timings.values())})
    collective(comm, results.commit, HpcmixError)   # a refused final move (rank 0) ends every rank cleanly
    if checkpoints is not None:
        checkpoints.remove()
    comm.Barrier()
    log(f"results written to {deck.run['output']}")
    return timings



def _checkpoints(deck, lattice, resume, log):
    """The run's :class:`Checkpoints` (None without a lattice); with ``resume`` those of the earlier run of
    this deck (there must be some, of this deck), without it none may exist (they would be lost)."""
    if lattice is None:
        return None
    checkpoints = Checkpoints(deck.run["output"], lattice, deck.text, enabled=deck.run["checkpoint"])
    stored = lattice.pg.bcast(collective(lattice.pg, lambda: checkpoints.deck() if lattice.pg.rank == 0 else None,
                                         HpcmixError))
    if resume and stored is None:
        raise DeckError(f"nothing to resume: no checkpoint file {checkpoints.path} (its run succeeded, never "
                        "started a solve, or ran with checkpoint = false)", file=deck.path, stage="run", key="output")
    if resume:
        check_same_deck(deck, checkpoints.path, stored)
        log(f"resuming from {checkpoints.path}")
    elif stored is not None:
        raise DeckError(f"{checkpoints.path} holds the finished work of an earlier run of this output that failed: "
                        "add --resume to continue it, or remove the file", file=deck.path, stage="run", key="output")
    return checkpoints


@contextmanager
def _naming_the_stage(deck, spec):
    """An HpcmixError raised while stage ``spec`` runs says where it comes from, as a deck error does:
    "<deck file>: stage '<name>' (<kind>): <message>" (deck errors already say it); so does an interrupt."""
    try:
        yield
    except HpcmixError as exc:
        if not isinstance(exc, DeckError) and exc.args:
            message = str(exc.args[0]).removeprefix(f"stage '{spec.name}': ")
            exc.args = (f"{deck.path}: stage '{spec.name}' ({spec.kind}): {message}",) + exc.args[1:]
        raise
    except Interrupted as exc:
        exc.where = f"{deck.path}: stage '{spec.name}' ({spec.kind}): "
        raise
