"""The results file of a run: one HDF5 file, written by rank 0, atomically.

Results accumulate in ``<output>.tmp-<pid>`` while the run goes on and the file is moved to
``<output>`` only when the whole pipeline succeeded. An existing output is never overwritten unless
the user asked for it (``[run] overwrite = true`` or ``hpcmix run --overwrite``): it is checked when
the run starts, and the final move refuses to replace an output that another run created meanwhile
(:func:`hpcmix.io.atomic.move_into_place`), keeping this run's results under a partial name. A failed
run leaves its partial results in ``<output stem>.partial.h5``, or where that exists (an earlier
failure's) in the first free ``<output stem>.partial-<n>.h5``, n = 2, 3, ...; it never touches an
earlier output or partial file. A run that fails before anything was written to the file leaves none.
The output must name a file, not a directory, in a folder that can be written.

Every dataset carries the CRC32 of its bytes (``crc32``, zlib's, in C order), for whoever reads it later.

The writer holds an exclusive ``flock`` on its temporary file. A run that finds a temporary file of
its output that nobody holds (its run was killed: SIGKILL, a node failure) keeps it as a partial file
(:meth:`ResultsFile.recover`); a temporary file of a run still going on is left alone.
"""

import fcntl
import glob
import itertools
import json
import os
import re
import threading
import zlib
from contextlib import contextmanager
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
    folder = next(p for p in path.absolute().parents if p.exists())   # the folder, or the part of it there is
    if not folder.is_dir():
        return f"output {path}: {folder} is not a directory"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"output {path}: folder {folder} is not writable"
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


#: The results files open in this process (what :func:`abandon_all` keeps).
_OPEN = set()


def abandon_all():
    """Close every open results file after a failure (see :meth:`ResultsFile.abandon`); returns where
    their partial results are."""
    return [p for p in (r.abandon() for r in list(_OPEN)) if p is not None]


class ResultsFile:
    """Rank 0 writes; on other ranks every method is a no-op (their data must be gathered first)."""

    def __init__(self, path, *, rank=0, overwrite=False):
        self.output = str(path)
        self.path = Path(path)
        self.rank = rank
        self.overwrite = overwrite
        self.tmp = None  # <output>.tmp-<pid>, named once the output is known to name a file
        self.h5 = None
        self.written = False    # whether anything but the run's metadata was written
        self.partial = None     # where abandon() kept the results
        self.recovered = []     # (temporary file, partial name) of killed runs, see recover()
        self._lock = threading.Lock()

    def open(self, metadata=None):
        if self.rank != 0:
            return self
        problem = output_problem(self.output, self.overwrite)
        if problem:
            raise HpcmixError(problem)
        self.tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.recovered = self.recover()
            self.h5 = h5py.File(self.tmp, "w")
        except OSError as exc:
            raise HpcmixError(f"output {self.path}: cannot create the results file there "
                              f"({getattr(exc, 'strerror', None) or exc})") from None
        try:
            fcntl.flock(self.h5.id.get_vfd_handle(), fcntl.LOCK_EX | fcntl.LOCK_NB)   # HDF5 may hold it already
        except OSError:
            pass     # a file system without flock: the file is left alone by recover() all the same
        _OPEN.add(self)
        write_attrs(self.h5, metadata)
        return self

    def recover(self):
        """Keep the temporary files of this output that no process holds (their run was killed) as
        partial files; returns [(temporary file, partial name)]. One that is held, or whose lock cannot
        be tested, is left alone."""
        kept = []
        for stray in sorted(self.path.parent.glob(f"{glob.escape(self.path.name)}.tmp-*")):
            try:
                with open(stray, "rb") as f:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    kept.append((stray, claim_free_name(stray, partial_names(self.path))))
            except OSError:
                continue
        return kept

    def group(self, name):
        return self.h5.require_group(name)

    def write(self, path, data, attrs=None):
        """Write dataset ``path`` (e.g. "/pion/correlator"); an existing one is an error."""
        if self.rank != 0:
            return
        if path in self.h5:
            raise HpcmixError(f"{self.path}: dataset {path} written twice")
        data = np.asarray(data)
        with self._writing(path):
            ds = self.h5.create_dataset(path, data=data)
            write_attrs(ds, dict(attrs or {}, crc32=zlib.crc32(np.ascontiguousarray(data).tobytes())))
            self.h5.flush()

    def set_attrs(self, path, attrs):
        if self.rank != 0:
            return
        with self._writing(path):
            write_attrs(self.h5.require_group(path), attrs)
            self.h5.flush()

    @contextmanager
    def _writing(self, what):
        """A write that the file system refuses (a full disk, a quota, a file size limit) is one clear error."""
        self.written = True
        try:
            yield
        except (OSError, RuntimeError) as exc:
            code = re.search(r"errno = (\d+)", str(exc))
            reason = os.strerror(int(code.group(1))) if code else getattr(exc, "strerror", None) or str(exc)
            raise HpcmixError(f"cannot write {what} into the results of {self.path} ({reason}): is the disk full?") \
                from None

    def commit(self):
        """Close and move into place (the whole run succeeded). Where that fails (an output created
        meanwhile by another run, without overwrite) the results are kept under a partial name and
        the error says where."""
        if self.rank != 0 or self.h5 is None:
            return
        _OPEN.discard(self)
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
        """Close after a failure (once; thread-safe): keep the partial results beside, never over, the
        output or an earlier partial file, and return their name; a file that holds nothing but the run's
        metadata is removed (None)."""
        with self._lock:
            if self.rank != 0 or self.h5 is None:
                return self.partial
            _OPEN.discard(self)
            try:
                self.h5.close()
            except (OSError, RuntimeError):    # a write the file system refused left it unfinished: kept as is
                pass
            self.h5 = None
            if self.written:
                self.partial = claim_free_name(self.tmp, partial_names(self.path))
            else:
                self.tmp.unlink(missing_ok=True)
            return self.partial
