"""Gauge-field conversion between registered formats (``hpcmix convert IN OUT``).

Collective over MPI. What every rank would find alike (the output format, named or from the
extension; an existing output; the input's format and extents; the precision asked for) is checked
once, by rank 0, and its verdict shared, so a bad request is one error raised on every rank alike
(collectively: the job ends cleanly, with the error's exit code). Then every rank reads its own
part of the field (all checks on unless ``verify`` is false) and the writer writes it, atomically,
never over an existing file unless asked.

Precision: by default the input's (links that are exactly single-precision numbers are written in
single precision, others in double, so nothing is rounded and no check tolerance is wrong). An
output format that cannot hold double precision (MILC) refuses double-precision links unless
``precision = "single"`` asks for the rounding; ``precision`` "single" or "double" sets the
stored precision whatever the input's.

With ``verify`` false the checks that failed are warned about and recorded in the output's metadata
(``verification = "skipped"``, ``failed_checks`` = the problems joined by "; ", or "none") in formats
that keep metadata (:attr:`~hpcmix.io.formats.GaugeFormat.keeps_metadata`: hpcmix HDF5 attributes,
the ILDG user record XML); for the others (MILC, NERSC) a warning says that nothing records it.
"""

import warnings
from pathlib import Path

import numpy as np
from mpi4py import MPI

from ..errors import FormatError, HpcmixError
from ..lattice import Lattice
from .formats import detect, lookup
from .warn import VerificationWarning, warn

#: Output format by file extension.
EXTENSIONS = {".h5": "hpcmix", ".hdf5": "hpcmix", ".lime": "ildg", ".ildg": "ildg", ".scidac": "ildg",
              ".nersc": "nersc", ".cfg": "nersc", ".milc": "milc"}
#: Stored type of each precision name.
PRECISIONS = {"single": np.complex64, "double": np.complex128}


def output_format(registry, dst, dst_format=None):
    """The registered writable format for ``dst``: by name (any case, or an alias), or by its extension."""
    if dst_format is None:
        dst_format = EXTENSIONS.get(Path(dst).suffix.lower())
        if dst_format is None:
            raise FormatError(f"cannot tell the output format from the extension (known: "
                              f"{', '.join(sorted(EXTENSIONS))}); name the format with --to", file=dst)
    fmt = lookup(registry, dst_format)
    if not fmt.can_write:
        raise FormatError(f"format '{fmt.name}' cannot be written", file=dst)
    return fmt


def check_output(writer, dst, precision, overwrite):
    """A FormatError where ``dst`` may not be written: it exists (and ``overwrite`` is false) or is a
    directory, or ``precision`` (None: the input's) is not one the format holds."""
    dst = Path(dst)
    if dst.is_dir():
        raise FormatError("is a directory; name the file to write", file=dst)
    if dst.exists() and not overwrite:
        raise FormatError("file exists; refusing to overwrite it (pass --overwrite)", file=dst)
    if precision is not None and precision not in PRECISIONS:
        raise FormatError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}", file=dst)
    if precision is not None and precision not in writer.precisions:
        raise FormatError(f"format '{writer.name}' holds {' or '.join(writer.precisions)} precision only, "
                          f"not {precision}", file=dst)


def _collective_error(message):
    exc = FormatError(message)
    exc.collective = True
    return exc


def _agreed(comm, action):
    """``action()`` on rank 0, its value (or its error, raised as a collective FormatError) on every rank."""
    value = error = None
    if comm.rank == 0:
        try:
            value = action()
        except (HpcmixError, OSError) as exc:
            error = str(exc)
    value, error = comm.bcast((value, error), root=0)
    if error is not None:
        raise _collective_error(error)
    return value


def stored_precision(writer, gauge, precision, dst):
    """Collective: the precision to write ``gauge`` in. None means the input's: single where every
    link entry is exactly a single-precision number, else double (a format that holds double only
    gets the exact widening)."""
    if precision is not None:
        return precision
    U = gauge.U
    natural = "double" if gauge.lattice.pg.any(not np.array_equal(U, U.astype(np.complex64))) else "single"
    if natural in writer.precisions:
        return natural
    if natural == "double":
        raise _collective_error(f"{dst}: the input's links are not all single-precision numbers (double-precision "
                                f"data, or a third row rebuilt in double) and format '{writer.name}' holds "
                                f"{' or '.join(writer.precisions)} precision only; pass --precision single to "
                                "round them")
    return "double"


def read_unverified(reader, src, lattice, verify):
    """Collective: ``reader.read`` and the problems of the checks that failed (with ``verify`` false
    they are warnings; they are collected here, every rank alike, and warned about again)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", VerificationWarning)
        gauge = reader.read(src, lattice, verify=verify)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return gauge, [w.message.problem for w in caught if issubclass(w.category, VerificationWarning)]


def convert(registry, src, dst, src_format="auto", dst_format=None, verify=True, overwrite=False,
            precision=None, comm=None, grid=None):
    """Convert the gauge field in ``src`` to ``dst``; returns the field read (this rank's part).

    ``src_format`` 'auto' detects the input; ``dst_format`` None takes it from the extension of
    ``dst`` (:data:`EXTENSIONS`); format names are matched in any case, with aliases
    (:func:`hpcmix.io.formats.format_name`). ``precision`` "single", "double" or None (the
    input's). ``comm`` (default COMM_WORLD) and ``grid`` set the process grid the field is read on.
    """
    comm = comm if comm is not None else MPI.COMM_WORLD

    def inspect():
        writer = output_format(registry, dst, dst_format)
        check_output(writer, dst, precision, overwrite)
        fmt = detect(registry, src, src_format)
        return writer.name, fmt.name, fmt.read_dims(src)

    writer_name, reader_name, dims = _agreed(comm, inspect)
    writer, reader = registry.lookup("formats", writer_name), registry.lookup("formats", reader_name)
    lattice = Lattice(dims, grid=grid, comm=comm)
    gauge, failed = read_unverified(reader, src, lattice, verify)
    stored = stored_precision(writer, gauge, precision, dst)
    metadata = {k: v for k, v in gauge.metadata.items() if k not in ("file", "format")}
    metadata.update(source=str(src), source_format=reader.name)
    if not verify:
        metadata.update(verification="skipped", failed_checks="; ".join(failed) or "none")
        warn(skipped_message(src, dst, writer, failed))
    writer.write(dst, gauge, metadata, dtype=PRECISIONS[stored], overwrite=overwrite)
    return gauge


def skipped_message(src, dst, writer, failed):
    """The warning that verification was skipped, saying what failed and where that is recorded."""
    what = f"{len(failed)} check(s) failed" if failed else "no check failed"
    where = (f"recorded in {dst}'s metadata (verification, failed_checks)" if writer.keeps_metadata else
             f"format '{writer.name}' has no place to record it: {dst} carries a valid checksum of data that "
             "was not verified")
    return f"{src}: verification skipped (--no-verify), {what}; {where}"
