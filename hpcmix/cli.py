"""The ``hpcmix`` command: run, check, plugins, info, convert, report, bench.

Errors a user can fix (bad deck, bad file, unconverged solve) print one line naming the file,
stage and key (a deck with several errors: one line each), with no traceback, and exit non-zero on
every rank: 2 for every input error (a bad deck or file, found by ``check`` or while running), 1 for
an error of the computation. An error that only some ranks see aborts the whole MPI job, so no rank
is left waiting. SIGTERM and SIGINT end a command with one message naming the partial results file
and exit code 128 + the signal number (:mod:`hpcmix.interrupt`).
"""

import argparse
import importlib.util
import os
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

from mpi4py import MPI

from . import __version__, interrupt
from .errors import HpcmixError, Interrupted
from .io.warn import HpcmixWarning


def _print0(*args, file=sys.stdout):
    if MPI.COMM_WORLD.rank == 0:
        print(*args, file=file, flush=True)


def cmd_run(args):
    from .deck import Deck
    from .pipeline import run_deck

    deck = Deck.load(args.deck, nranks=MPI.COMM_WORLD.size, overwrite=args.overwrite, comm=MPI.COMM_WORLD)
    deck.registry.check_same_on_every_rank(MPI.COMM_WORLD)
    run_deck(deck, overwrite=args.overwrite, quiet=args.quiet, resume=args.resume)
    return 0


def cmd_check(args):
    from . import memory
    from .comm.grid import node_ranks
    from .deck import Deck

    deck = Deck.load(args.deck, nranks=MPI.COMM_WORLD.size, overwrite=args.overwrite, comm=MPI.COMM_WORLD)
    deck.registry.check_same_on_every_rank(MPI.COMM_WORLD)
    ranks_per_node = args.ranks_per_node or node_ranks(MPI.COMM_WORLD)[1]
    for line in memory.table(memory.estimate(deck, ranks_per_node)):
        _print0(line)
    memory.refuse_if_too_big(deck, MPI.COMM_WORLD, ranks_per_node)
    lat = f"lattice {deck.dims}, process grid {deck.grid}" if deck.dims else "no lattice"
    _print0(f"{args.deck}: OK ({lat}, {len(deck.stages)} stages: "
            f"{', '.join(f'{s.name} ({s.kind})' for s in deck.stages)})")
    return 0


def cmd_plugins(args):
    from .hookspecs import KINDS
    from .params import describe
    from .registry import get_registry

    registry = get_registry(tuple(args.plugin or ()), comm=MPI.COMM_WORLD)
    registry.check_same_on_every_rank(MPI.COMM_WORLD)
    for kind in KINDS:
        _print0(f"{kind}:")
        for e in registry.entries(kind):
            desc = getattr(e.obj, "description", "")
            _print0(f"  {e.name:<18} {desc:<60} [{e.origin}]")
            if args.verbose and getattr(e.obj, "params", None):
                for key, typ, default, unit, doc in describe(e.obj.params):
                    _print0(f"      {key:<16} {typ:<24} default {default:<14} {unit} {doc}")
    return 0


def cmd_info(args):
    from .pipeline import versions
    from .registry import get_registry

    registry = get_registry(comm=MPI.COMM_WORLD)
    comm = MPI.COMM_WORLD
    v = versions()
    _print0(f"hpcmix {__version__} (python {v['python']}, numpy {v['numpy']}, h5py {v['h5py']})")
    _print0(f"MPI: {v['mpi']}; {comm.size} rank(s)")
    if args.dims:
        from .comm import auto_grid
        _print0(f"process grid for lattice {args.dims} on {comm.size} rank(s): {auto_grid(args.dims, comm.size)}")
    from .backends import DEFAULT_BACKEND
    from .backends.kernels.rowloop import cache_folder

    _print0(f"backends (default: {DEFAULT_BACKEND}):")
    for e in registry.entries("backends"):
        ok, why = e.obj.available()
        _print0(f"  {e.name:<10} {'available' if ok else 'not available: ' + why}")
    if DEFAULT_BACKEND == "numba":
        import numba

        from .backends import load_backend
        from .comm.grid import cores, node_ranks

        local_rank, local_ranks = node_ranks(comm)
        backend = load_backend(registry, "numba", local_rank)
        backend.share_cores(local_ranks, cores())
        how = "NUMBA_NUM_THREADS" if "NUMBA_NUM_THREADS" in os.environ else f"{cores()} cores / {local_ranks} rank(s)"
        _print0(f"numba {numba.__version__}: {backend.threads} thread(s) per rank ({how}); "
                f"kernel cache {cache_folder()} (HPCMIX_KERNEL_CACHE)")
    if registry.lookup("backends", "cupy").available()[0]:
        _gpu_info(registry, comm)
    return 0


def _gpu_info(registry, comm):
    """Each rank's GPU and binding, the halo path and the tune cache of the cupy backend (rank order)."""
    from .backends import load_backend
    from .comm.grid import node_ranks

    local_rank, _ = node_ranks(comm)
    backend = load_backend(registry, "cupy", local_rank)
    how = "HPCMIX_GPU" if "HPCMIX_GPU" in os.environ else "node-local rank mod GPUs seen"
    gpu = backend.device_name if backend.gpu is None else f"GPU {backend.gpu}, {backend.device_name} ({how})"
    line = f"  rank {comm.rank} (node-local {local_rank}) on {MPI.Get_processor_name()}: {gpu}"
    lines = comm.gather(line, root=0)
    _print0(f"cupy: halos through {backend.halo_path}; tune cache {backend.tune.path} (HPCMIX_TUNE_CACHE)")
    for text in lines or ():
        _print0(text)


def cmd_convert(args):
    from .io.convert import convert
    from .io.links import boundary_sign_note
    from .registry import get_registry

    gauge = convert(get_registry(comm=MPI.COMM_WORLD), args.input, args.output, src_format=args.src_format,
                    dst_format=args.dst_format, verify=not args.no_verify, overwrite=args.overwrite,
                    precision=args.precision)
    note = boundary_sign_note(gauge.metadata)
    if note:
        _print0(note)
    _print0(f"wrote {args.output}")
    return 0


def cmd_report(args):
    from .report import report

    if MPI.COMM_WORLD.size > 1:
        raise HpcmixError("hpcmix report runs on one process: start it without mpiexec", collective=True)
    report(args.results, html_dir=args.html, out=_print0)
    return 0


def cmd_bench(args):
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    script = root / f"bench_{args.name}.py"
    if not script.is_file():
        known = sorted(p.stem[6:] for p in root.glob("bench_*.py")) if root.is_dir() else []
        raise HpcmixError(f"no benchmark '{args.name}' (benchmarks ship with the source checkout in {root}; "
                          f"known: {', '.join(known) or 'none'})", collective=True)
    spec = importlib.util.spec_from_file_location(f"hpcmix_bench_{args.name}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(args.args) or 0


def _at_least_one(text):
    """An integer >= 1 (argparse type)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser():
    p = argparse.ArgumentParser(prog="hpcmix", description="mixed-precision lattice QCD and dense solvers")
    p.add_argument("--version", action="version", version=f"hpcmix {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run an input deck")
    r.add_argument("deck")
    r.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    r.add_argument("--quiet", action="store_true", help="no progress reports of running solves")
    r.add_argument("--resume", action="store_true", help="continue a failed run of this deck from its checkpoints")
    r.set_defaults(func=cmd_run)
    c = sub.add_parser("check", help="validate an input deck without running it")
    c.add_argument("deck")
    c.add_argument("--overwrite", action="store_true", help="do not complain about an existing output")
    c.add_argument("--ranks-per-node", type=_at_least_one, default=None, metavar="N",
                   help="ranks the run puts on each node, for the memory estimate (default: the check's own)")
    c.set_defaults(func=cmd_check)
    pl = sub.add_parser("plugins", help="list what is registered and where it came from")
    pl.add_argument("-v", "--verbose", action="store_true", help="also list every parameter")
    pl.add_argument("--plugin", action="append", help="also load this plugin module")
    pl.set_defaults(func=cmd_plugins)
    i = sub.add_parser("info", help="version, backends, MPI library, process grid")
    i.add_argument("--dims", type=int, nargs=4, metavar=("X", "Y", "Z", "T"), help="show the automatic grid")
    i.set_defaults(func=cmd_info)
    cv = sub.add_parser("convert", help="convert a gauge field between formats")
    cv.add_argument("input")
    cv.add_argument("output")
    cv.add_argument("--from", dest="src_format", default="auto", help="input format (default: detected)")
    cv.add_argument("--to", dest="dst_format", default=None,
                    help="output format (default: from the extension: .h5 .lime .scidac .nersc .cfg .milc ...)")
    cv.add_argument("--precision", default=None, metavar="single|double",
                    help="stored precision (default: the input's; MILC holds single only, so double-precision "
                         "links need --precision single, which rounds them)")
    cv.add_argument("--no-verify", action="store_true",
                    help="failed checks are warnings (recorded in the output's metadata where it has a place)")
    cv.add_argument("--overwrite", action="store_true")
    cv.set_defaults(func=cmd_convert)
    rp = sub.add_parser("report", help="tables and figures of a results file (convergence, plaquette, correlators)")
    rp.add_argument("results", help="an HDF5 results file written by hpcmix run (or its .partial.h5)")
    rp.add_argument("--html", metavar="DIR", default=None,
                    help="also write DIR/index.html and its PNG figures (needs matplotlib: hpcmix[report]); DIR "
                         "must be new, empty, or an earlier report's folder")
    rp.set_defaults(func=cmd_report)
    b = sub.add_parser("bench", help="run a benchmark (dense, dslash, mixed, ...)")
    b.add_argument("name")
    b.add_argument("args", nargs=argparse.REMAINDER)
    b.set_defaults(func=cmd_bench)
    return p


def _showwarning(message, category, filename, lineno, file=None, line=None):
    print(f"hpcmix: warning: {message}", file=sys.stderr, flush=True)


def main(argv=None):
    args = parser().parse_args(argv)
    comm = MPI.COMM_WORLD
    warnings.showwarning = _showwarning
    if comm.rank != 0:
        warnings.simplefilter("ignore", HpcmixWarning)
    with interrupt.handled(comm, _abort) as signals:
        return _command(args, comm, signals)


def _command(args, comm, signals):
    try:
        return args.func(args)
    except HpcmixError as exc:
        if exc.collective or comm.size == 1:
            for error in getattr(exc, "errors", [exc]):
                _print0(f"hpcmix: error: {error}", file=sys.stderr)
            return exc.exit_code
        print(f"hpcmix: error on rank {comm.rank}: {exc}", file=sys.stderr, flush=True)
        _abort(comm, exc.exit_code)
    except BrokenPipeError:     # the reader of stdout went away (| head): end quietly, as a pipeline's stage does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if comm.size > 1:
            _abort(comm, 128 + signal.SIGPIPE)
        return 128 + signal.SIGPIPE
    except (Interrupted, KeyboardInterrupt) as exc:
        code = signals.end(exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT))
        if comm.size > 1:
            _abort(comm, code)
        return code
    except Exception:
        print(f"hpcmix: internal error on rank {comm.rank}:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        if comm.size > 1:
            _abort(comm, 1)
        return 1


ABORT_GRACE_S = 1.0


def _abort(comm, code):
    """End every rank of the job. The launcher forwards each rank's stderr through a pipe and
    stops reading once it kills the job, so the failing rank's message is given time to reach
    the user before ``MPI_Abort``."""
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(ABORT_GRACE_S)
    comm.Abort(code)


def run_main():
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run_main()
