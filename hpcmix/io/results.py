"""The results file of a run: one HDF5 file, written by rank 0, atomically.

Results accumulate in ``<output>.tmp-<pid>`` while the run goes on and the file is moved to
``<output>`` only when the whole pipeline succeeded. An existing output is never overwritten unless
the user asked for it (``[run] overwrite = true`` or ``hpcmix run --overwrite``): it is checked when
the run starts, and the final move refuses to replace an output that another run created meanwhile
(:func:`hpcmix.io.atomic.move_into_place`), keeping this run's results under a partial name. A failed
run leaves its partial results in ``<output stem>.partial.h5``, or where that exists (an earlier
failure's) in the first free ``<output stem>.partial-<n>.h5``, n = 2, 3, ...; it never touches an
earlier output or partial file. The output must name a file, not a directory.
"""

import itertools
import json
import os
from pathlib import Path

import h5py
import numpy as np

from ..errors import HpcmixError
from .atomic import claim_free_name, move_into_place


def _attr_value(v):
    """HDF5-storable form of an attribute value (dicts and ragged lists become JSON strings)."""
    if v is None:
        return "none"
    if isinstance(v, (dict,)) or (isinstance(v, (list, tuple)) and any(isinstance(x, (dict, list, str)) for x in v)):
        return json.dumps(v, default=str)
    return v


def output_problem(output, overwrite):
    """Why ``output`` (the deck's string) cannot be a results file, or None: it names no file ("",
    ".", "dir/"), it is a directory, or it exists and ``overwrite`` is false."""
    path = Path(output)
    if not str(output).strip() or str(output).endswith("/") or path.name in ("", ".", ".."):
        return f"output must name a file, not {str(output)!r}"
    if path.is_dir():
        return f"output {path} is a directory; name a file in it (e.g. {path / 'results.h5'})"
    if path.exists() and not overwrite:
        return f"output {path} exists; refusing to overwrite it (set [run] overwrite = true or pass --overwrite)"
    return None


def partial_names(path):
    """Names for a failed run's results beside ``path``: ``<stem>.partial.h5``, then
    ``<stem>.partial-2.h5``, ``-3``, ..."""
    yield path.with_name(f"{path.stem}.partial.h5")
    for n in itertools.count(2):
        yield path.with_name(f"{path.stem}.partial-{n}.h5")


def write_attrs(obj, attrs):
    for k, v in (attrs or {}).items():
        obj.attrs[k] = _attr_value(v)


class ResultsFile:
    """Rank 0 writes; on other ranks every method is a no-op (their data must be gathered first)."""

    def __init__(self, path, *, rank=0, overwrite=False):
        self.output = str(path)
        self.path = Path(path)
        self.rank = rank
        self.overwrite = overwrite
        self.tmp = None  # <output>.tmp-<pid>, named once the output is known to name a file
        self.h5 = None

    def open(self, metadata=None):
        if self.rank != 0:
            return self
        problem = output_problem(self.output, self.overwrite)
        if problem:
            raise HpcmixError(problem)
        self.tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.h5 = h5py.File(self.tmp, "w")
        except OSError as exc:
            raise HpcmixError(f"output {self.path}: cannot create the results file there "
                              f"({getattr(exc, 'strerror', None) or exc})") from None
        write_attrs(self.h5, metadata)
        return self

    def group(self, name):
        return self.h5.require_group(name)

    def write(self, path, data, attrs=None):
        """Write dataset ``path`` (e.g. "/pion/correlator"); an existing one is an error."""
        if self.rank != 0:
            return
        if path in self.h5:
            raise HpcmixError(f"{self.path}: dataset {path} written twice")
        ds = self.h5.create_dataset(path, data=np.asarray(data))
        write_attrs(ds, attrs)
        self.h5.flush()

    def set_attrs(self, path, attrs):
        if self.rank != 0:
            return
        write_attrs(self.h5.require_group(path), attrs)
        self.h5.flush()

    def commit(self):
        """Close and move into place (the whole run succeeded). Where that fails (an output created
        meanwhile by another run, without overwrite) the results are kept under a partial name and
        the error says where."""
        if self.rank != 0 or self.h5 is None:
            return
        self.h5.close()
        self.h5 = None
        try:
            move_into_place(self.tmp, self.path, self.overwrite)
        except OSError as exc:
            partial = claim_free_name(self.tmp, partial_names(self.path))
            reason = ("appeared while this run went on (another run?); refusing to overwrite it"
                      if isinstance(exc, FileExistsError) else f"cannot be written: {exc.strerror or exc}")
            raise HpcmixError(f"output {self.path} {reason}; this run's results are in {partial}") from None

    def abandon(self):
        """Close after a failure: keep the partial results beside, never over, the output or an
        earlier partial file; returns their name."""
        if self.rank != 0 or self.h5 is None:
            return None
        self.h5.close()
        self.h5 = None
        return claim_free_name(self.tmp, partial_names(self.path))
