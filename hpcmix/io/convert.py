"""Gauge-field conversion between registered formats (``hpcmix convert IN OUT``).

Collective over MPI: rank 0 detects the input format and reads its lattice extents, every rank
reads its own part of the field (all checks on), and the writer writes it in the input's
precision (links that are exactly single-precision numbers are written in single precision,
others in double, so nothing is rounded and no check tolerance is wrong), atomically, never over
an existing file unless asked.
"""

from pathlib import Path

import numpy as np
from mpi4py import MPI

from ..errors import FormatError, HpcmixError
from ..lattice import Lattice
from .formats import detect

#: Output format by file extension.
EXTENSIONS = {".h5": "hpcmix", ".hdf5": "hpcmix", ".lime": "ildg", ".ildg": "ildg", ".nersc": "nersc",
              ".cfg": "nersc"}


def output_format(registry, dst, dst_format=None):
    """The registered writable format for ``dst``: by name, or by its extension."""
    if dst_format is None:
        dst_format = EXTENSIONS.get(Path(dst).suffix.lower())
        if dst_format is None:
            raise FormatError(f"cannot tell the output format from the extension (known: "
                              f"{', '.join(sorted(EXTENSIONS))}); name the format", file=dst)
    fmt = registry.lookup("formats", dst_format, FormatError)
    if not fmt.can_write:
        raise FormatError(f"format '{fmt.name}' cannot be written", file=dst)
    return fmt


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
        exc = FormatError(error)
        exc.collective = True
        raise exc
    return value


def convert(registry, src, dst, src_format="auto", dst_format=None, verify=True, overwrite=False,
            comm=None, grid=None):
    """Convert the gauge field in ``src`` to ``dst``; returns the field read (this rank's part).

    ``src_format`` 'auto' detects the input; ``dst_format`` None takes it from the extension of
    ``dst`` (.h5/.hdf5 hpcmix, .lime/.ildg ildg, .nersc/.cfg nersc). ``comm`` (default
    COMM_WORLD) and ``grid`` set the process grid the field is read on.
    """
    comm = comm if comm is not None else MPI.COMM_WORLD
    writer = output_format(registry, dst, dst_format)

    def inspect():
        fmt = detect(registry, src, src_format)
        return fmt.name, fmt.read_dims(src)

    name, dims = _agreed(comm, inspect)
    reader = registry.lookup("formats", name, FormatError)
    lattice = Lattice(dims, grid=grid, comm=comm)
    gauge = reader.read(src, lattice, verify=verify)
    widened = lattice.pg.any(not np.array_equal(gauge.U, gauge.U.astype(np.complex64)))
    dtype = np.complex128 if widened else np.complex64
    metadata = {k: v for k, v in gauge.metadata.items() if k not in ("file", "format")}
    metadata.update(source=str(src), source_format=reader.name)
    writer.write(dst, gauge, metadata, dtype=dtype, overwrite=overwrite)
    return gauge
