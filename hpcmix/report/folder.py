"""The folder ``hpcmix report --html DIR`` writes into, and the rule that nothing in it is lost silently.

A report folder holds a marker file, :data:`MARKER`, listing the files the report wrote there. The
report writes into a folder that is new, empty, or holds such a marker; there it replaces the files
the marker lists (removing those the new report no longer has) and leaves every other file alone,
unless the new report would replace one of those, which is refused. A non-empty folder without the
marker is refused.
"""

import json
import os
from pathlib import Path

from .. import __version__
from ..errors import HpcmixError

MARKER = ".hpcmix-report.json"


class FolderError(HpcmixError):
    """A report folder that may not be written (exit code 2, as a bad input file)."""

    exit_code = 2


def claim(folder, names):
    """Check that the files ``names`` may be written into ``folder``; returns the files of the report
    written there before (to be replaced), empty for a new or empty folder."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FolderError(f"{folder}: exists and is not a folder", collective=True)
    entries = {p.name for p in folder.iterdir()} if folder.exists() else set()
    if not entries:
        return []
    if MARKER not in entries:
        raise FolderError(f"{folder}: the folder is not empty and was not written by hpcmix report (no {MARKER}); "
                          "refusing to write into it: name a new or empty folder", collective=True)
    try:
        old = json.loads((folder / MARKER).read_text())["files"]
        if not all(isinstance(n, str) and n == Path(n).name for n in old):
            raise ValueError("file names expected")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FolderError(f"{folder / MARKER}: unreadable report marker ({exc}); refusing to write into {folder}",
                          collective=True) from None
    foreign = sorted(n for n in names if n in entries and n not in old)
    if foreign:
        raise FolderError(f"{folder}: {foreign[0]} was not written by hpcmix report; refusing to replace it",
                          collective=True)
    return old


def write_marker(folder, names, source):
    """Record that the report of ``source`` owns the files ``names`` of ``folder``."""
    write_text(Path(folder) / MARKER, json.dumps({"written_by": f"hpcmix {__version__} report", "source": str(source),
                                                  "files": sorted(set(names))}, indent=1) + "\n")


def write_text(path, text):
    """Write ``text`` to ``path`` under a temporary name, then move it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def remove_stale(folder, old, names):
    """Remove the files of the earlier report (``old``) that the new one (``names``) does not have."""
    for name in set(old) - set(names):
        (Path(folder) / name).unlink(missing_ok=True)
