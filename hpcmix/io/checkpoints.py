"""Finished solves kept beside the results file while a run goes on, so that a failed run can be resumed
without redoing them (``[run] checkpoint = true``; ``hpcmix run DECK --resume``).

``<output>.checkpoint.h5`` holds pieces ``/<stage>/<key>`` of finished work, each a group of datasets (with
their CRC32) and attributes: a propagator's right-hand side i as ``/<stage>/<i>`` (the solution ``x``, the
canonical global array ``[T, Z, Y, X, *site]``, its residual ``history`` and the solve report), an
eigensolve's modes as ``/<stage>/modes``; the root holds the deck's text. Rank 0 appends (opening the
file for each piece); every rank reads its own hyperslab of the lattice arrays when a stage starts,
before rank 0 writes again. The file is removed when the run succeeds; a failed run leaves it for
``--resume``.
"""

import zlib
from pathlib import Path

import h5py
import numpy as np

from ..comm import collective
from ..errors import FormatError, HpcmixError
from .results import write_attrs


def checkpoint_path(output):
    path = Path(output)
    return path.with_name(f"{path.name}.checkpoint.h5")


class Checkpoints:
    """The checkpoint file of ``output`` for ``lattice``'s ranks (module doc); ``enabled`` false: nothing is
    kept and nothing is found."""

    def __init__(self, output, lattice, deck_text, enabled=True):
        self.path, self.lattice, self.deck_text, self.enabled = checkpoint_path(output), lattice, deck_text, enabled

    def load(self, stage):
        """Collective: {key: (arrays, attributes)} of the pieces of ``stage`` whose CRC32s verify (rank 0
        checks; every rank keeps the same pieces): ``arrays`` holds this rank's hyperslab of each lattice array
        and every small array whole (see :meth:`save`)."""
        if not self.enabled or not self.path.exists():
            return {}

        def read():
            found = {}
            with h5py.File(self.path, "r") as h5:
                for key, group in (h5[stage].items() if stage in h5 else ()):
                    arrays, ok = {}, True
                    for name, ds in group.items():
                        lead = int(ds.attrs["lead"])
                        arrays[name] = ds[...] if lead < 0 else np.ascontiguousarray(
                            ds[(slice(None),) * lead + self.lattice.box()])
                        if self.lattice.pg.rank == 0:
                            ok &= zlib.crc32(np.ascontiguousarray(ds[...]).tobytes()) == int(ds.attrs["crc32"])
                    found[key] = (arrays, dict(group.attrs), ok)
            return found

        found = collective(self.lattice.pg, read, FormatError, what=f"{self.path}: ")
        good = self.lattice.pg.bcast(sorted(key for key, piece in found.items() if piece[2]))
        return {key: found[key][:2] for key in good}

    def save(self, stage, key, arrays, attrs):
        """Rank 0: keep piece ``key`` of ``stage`` (replacing an earlier one): ``arrays`` {name: (array, lead)},
        a lattice array given as the global array (on rank 0; None elsewhere) with ``lead`` axes before the
        lattice's [T, Z, Y, X], or a small array with ``lead`` None, kept whole; ``attrs`` on the piece."""
        if not self.enabled or self.lattice.pg.rank != 0:
            return
        try:
            with h5py.File(self.path, "a") as h5:
                if "deck" not in h5.attrs:
                    h5.attrs["deck"] = self.deck_text
                if f"{stage}/{key}" in h5:
                    del h5[f"{stage}/{key}"]
                group = h5.create_group(f"{stage}/{key}")
                for name, (array, lead) in arrays.items():
                    array = np.ascontiguousarray(array)
                    ds = group.create_dataset(name, data=array)
                    ds.attrs["lead"], ds.attrs["crc32"] = -1 if lead is None else lead, zlib.crc32(array.tobytes())
                write_attrs(group, attrs)
        except OSError as exc:
            raise HpcmixError(f"{self.path}: cannot write the checkpoint ({getattr(exc, 'strerror', None) or exc}); "
                              "set [run] checkpoint = false to run without") from None

    def deck(self):
        """The deck text the checkpoint file was written for (None: no file)."""
        if not self.path.exists():
            return None
        with h5py.File(self.path, "r") as h5:
            return str(h5.attrs.get("deck", ""))

    def remove(self):
        """Rank 0, after the run succeeded."""
        if self.lattice.pg.rank == 0:
            self.path.unlink(missing_ok=True)
