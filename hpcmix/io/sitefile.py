"""Site-ordered binary data in a file: each rank reads and writes only its own sites.

MILC, NERSC and LIME files hold one fixed-size record per lattice site, sites in lexicographic
order (x fastest, t slowest), from a byte offset on. A rank's box is a set of rows of X_local
consecutive sites. Reads go through a read-only ``np.memmap`` (only the box's pages are touched);
writes are positioned writes of those rows, the ranks taking turns (safe on network file systems).
A new file is built under a temporary name beside the target and moved into place when complete
(:func:`hpcmix.io.atomic.move_into_place`); an existing file is replaced only when asked.
"""

import os
from pathlib import Path

import numpy as np

from ..comm import collective
from ..errors import FormatError
from .atomic import move_into_place, temporary


def read_sites(path, offset, lattice, site_bytes):
    """This rank's site records, a uint8 array ``[t, z, y, x, site_bytes]`` (a copy), from the block
    of ``lattice.volume`` records at byte ``offset`` of ``path``."""
    need = offset + lattice.volume * site_bytes
    size = os.path.getsize(path)
    if size < need:
        raise FormatError(f"file is truncated: it has {size} bytes, lattice {lattice.dims} needs {need}", file=path)
    block = np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=lattice.global_shape + (site_bytes,))
    local = np.array(block[lattice.box()])
    del block
    return local


def refuse_existing(path, overwrite):
    """A FormatError where ``path`` exists and ``overwrite`` is false."""
    if path.exists() and not overwrite:
        raise FormatError("file exists; refusing to overwrite it", file=path)


def finish(tmp, path, overwrite):
    """Move the complete file ``tmp`` to ``path``; a FormatError where ``path`` appeared meanwhile
    (unless ``overwrite``)."""
    try:
        move_into_place(tmp, path, overwrite)
    except FileExistsError:
        raise FormatError("file exists (it appeared while this one was being written); refusing to "
                          "overwrite it", file=path) from None


def write_in_turns(pg, tmp, path, overwrite, create, write_part):
    """Collective: rank 0 makes the file ``tmp`` (``create()``), every rank writes its part (``write_part()``)
    in turn (one writer at a time: the I/O libraries here are serial), and rank 0 moves the file to ``path``
    (:func:`finish`); ``tmp`` is removed where a step fails, a FormatError on every rank."""
    with temporary(tmp, owner=pg.rank == 0):
        collective(pg, lambda: create() if pg.rank == 0 else None, FormatError)
        for turn in range(pg.size):
            collective(pg, lambda: write_part() if pg.rank == turn else None, FormatError)
        collective(pg, lambda: finish(tmp, path, overwrite) if pg.rank == 0 else None, FormatError)


def _create(tmp, head, data_end, tail):
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as f:
        f.write(head)
        f.truncate(data_end)
        f.seek(data_end)
        f.write(tail)


def _write_rows(tmp, rows, starts):
    with open(tmp, "r+b") as f:
        for row, start in zip(rows, starts):
            f.seek(int(start))
            f.write(row)


def write_file(path, lattice, head, local, tail=b"", overwrite=False):
    """Collective: create ``path`` = ``head`` + every rank's site records + ``tail``.

    ``local`` is this rank's records as uint8 ``[t, z, y, x, site_bytes]``; ``head`` and ``tail``
    (bytes, the same on every rank) are written by rank 0.
    """
    pg, path = lattice.pg, Path(path)
    collective(pg, lambda: refuse_existing(path, overwrite) if pg.rank == 0 else None, FormatError)
    tmp = path.with_name(pg.bcast(f"{path.name}.tmp-{os.getpid()}"))
    site_bytes = local.shape[-1]
    data_end = len(head) + lattice.volume * site_bytes
    rows = np.ascontiguousarray(local).reshape(-1, lattice.local_dims[0] * site_bytes)
    starts = len(head) + lattice.global_index()[..., 0].ravel() * site_bytes
    write_in_turns(pg, tmp, path, overwrite, lambda: _create(tmp, head, data_end, tail),
                   lambda: _write_rows(tmp, rows, starts))
