"""The gauge-field file format interface and format detection.

A format is registered through the ``formats`` hook as an instance of a :class:`GaugeFormat`
subclass. Readers are collective: every rank calls ``read`` with its lattice and reads only its
own box; every check (checksum, header plaquette, unitarity) is agreed between ranks, so a bad
file raises the same :class:`~hpcmix.errors.FormatError` on every rank.

Format names are matched without regard to case, and :data:`ALIASES` gives other names users know
a format by ("lime" and "scidac" for the ILDG/SciDAC LIME reader, "hdf5" and "h5" for hpcmix HDF5).
"""

from pathlib import Path

from ..errors import FormatError


class GaugeFormat:
    """Base class of gauge-field formats."""

    name = ""
    description = ""
    can_write = False
    #: The precisions the format can store, the default (what ``save_gauge`` writes unless told) first.
    precisions = ("double", "single")
    #: Whether the writer keeps free-form metadata (it records, e.g., that verification was skipped).
    keeps_metadata = False

    def sniff(self, path):
        """True if ``path`` looks like this format (reads a few header bytes only)."""
        raise NotImplementedError

    def read_dims(self, path):
        """The lattice extents ``[X, Y, Z, T]`` the file holds, from its header; a FormatError where the
        header is unreadable or disagrees with the file's size (a truncated file)."""
        raise NotImplementedError

    def read(self, path, lattice, verify=True):
        """Collective: return a :class:`~hpcmix.fields.GaugeField` with this rank's links.
        With ``verify = False`` failed checks are warnings instead of errors."""
        raise NotImplementedError

    def write(self, path, gauge, metadata=None, *, dtype=None, overwrite=False):
        """Collective: write ``gauge`` with links stored as ``dtype`` (complex128 or complex64, one of
        :attr:`precisions`), atomically, never over an existing file unless ``overwrite``."""
        raise FormatError(f"format '{self.name}' cannot be written", file=path)


#: Other names of registered formats.
ALIASES = {"lime": "ildg", "scidac": "ildg", "hdf5": "hpcmix", "h5": "hpcmix"}


def format_name(registry, name):
    """The registered format name that ``name`` means (any case, or an alias); a FormatError listing
    the registered names and the aliases where it means none."""
    known = registry.names("formats")
    wanted = ALIASES.get(name.lower(), name.lower())
    match = next((k for k in known if k.lower() == wanted), None)
    if match is None:
        aliases = ", ".join(f"{a} = {t}" for a, t in sorted(ALIASES.items()) if t in known)
        raise FormatError(f"unknown format '{name}'; registered formats: {', '.join(known)}"
                          + (f" (aliases: {aliases})" if aliases else ""))
    return match


def lookup(registry, name):
    """The registered format object that ``name`` means (see :func:`format_name`)."""
    return registry.lookup("formats", format_name(registry, name))


def detect(registry, path, name="auto"):
    """The registered format that reads ``path``: by name (see :func:`format_name`), or by sniffing
    every format."""
    if name.lower() != "auto":
        return lookup(registry, name)
    if not Path(path).is_file():
        raise FormatError("no such file", file=path)
    for entry in registry.entries("formats"):
        try:
            if entry.obj.sniff(path):
                return entry.obj
        except OSError:
            continue
    raise FormatError(f"not a recognized gauge-field format (known: {', '.join(registry.names('formats'))})",
                      file=path)
