"""The gauge-field file format interface and format detection.

A format is registered through the ``formats`` hook as an instance of a :class:`GaugeFormat`
subclass. Readers are collective: every rank calls ``read`` with its lattice and reads only its
own box; every check (checksum, header plaquette, unitarity) is agreed between ranks, so a bad
file raises the same :class:`~hpcmix.errors.FormatError` on every rank.
"""

from pathlib import Path

from ..errors import FormatError


class GaugeFormat:
    """Base class of gauge-field formats."""

    name = ""
    description = ""
    can_write = False

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

    def write(self, path, gauge, metadata=None):
        """Collective: write ``gauge`` (atomically; never over an existing file)."""
        raise FormatError(f"format '{self.name}' cannot be written", file=path)


def detect(registry, path, name="auto"):
    """The registered format that reads ``path``: by name, or by sniffing every format."""
    if name != "auto":
        return registry.lookup("formats", name)
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
