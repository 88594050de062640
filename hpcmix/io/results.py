"""The results file of a run: one HDF5 file, written by rank 0, atomically.

Results accumulate in ``<output>.tmp-<pid>`` while the run goes on and the file is renamed to
``<output>`` only when the whole pipeline succeeded. An existing output is never overwritten unless
the user asked for it (``[run] overwrite = true`` or ``hpcmix run --overwrite``); a failed run
leaves its partial results in ``<output stem>.partial.h5`` and never touches an earlier output.
"""

import json
import os
from pathlib import Path

import h5py
import numpy as np

from ..errors import HpcmixError


def _attr_value(v):
    """HDF5-storable form of an attribute value (dicts and ragged lists become JSON strings)."""
    if v is None:
        return "none"
    if isinstance(v, (dict,)) or (isinstance(v, (list, tuple)) and any(isinstance(x, (dict, list, str)) for x in v)):
        return json.dumps(v, default=str)
    return v


def write_attrs(obj, attrs):
    for k, v in (attrs or {}).items():
        obj.attrs[k] = _attr_value(v)


class ResultsFile:
    """Rank 0 writes; on other ranks every method is a no-op (their data must be gathered first)."""

    def __init__(self, path, *, rank=0, overwrite=False):
        self.path = Path(path)
        self.rank = rank
        self.overwrite = overwrite
        self.tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        self.h5 = None

    def open(self, metadata=None):
        if self.rank != 0:
            return self
        if self.path.exists() and not self.overwrite:
            raise HpcmixError(f"{self.path}: output exists; refusing to overwrite it "
                              "(set [run] overwrite = true or pass --overwrite)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.h5 = h5py.File(self.tmp, "w")
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
        """Close and move into place (the whole run succeeded)."""
        if self.rank != 0 or self.h5 is None:
            return
        self.h5.close()
        self.h5 = None
        os.replace(self.tmp, self.path)

    def abandon(self):
        """Close after a failure: keep the partial results beside, never over, the output."""
        if self.rank != 0 or self.h5 is None:
            return None
        self.h5.close()
        self.h5 = None
        partial = self.path.with_name(self.path.stem + ".partial.h5")
        os.replace(self.tmp, partial)
        return partial
