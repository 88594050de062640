"""Moving a finished file into place without replacing one that appeared meanwhile.

A writer checks that its target does not exist when it starts, but another process may create the
target while the file is being written; ``os.replace`` would then silently destroy that file.
:func:`move_into_place` makes the final step refuse instead: ``os.link`` fails where the target
exists, atomically, and the temporary name is removed only once the link is made. On a file
system without hard links, the target name is reserved with ``O_CREAT | O_EXCL`` (also atomic)
and the file renamed over that empty reservation.

:func:`temporary` removes a temporary file whose writing fails or is interrupted;
:func:`remove_temporaries` removes those still being written (a run ended by a signal while its main
thread cannot unwind, :mod:`hpcmix.interrupt`).
"""

import errno
import os
from contextlib import contextmanager
from pathlib import Path


#: errno values of a file system that makes no hard links.
NO_HARD_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK)


def move_into_place(src, dst, overwrite=False):
    """Rename ``src`` to ``dst``; with ``overwrite`` false, raise FileExistsError (``src`` left as it
    was) where ``dst`` exists."""
    if overwrite:
        os.replace(src, dst)
        return
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in NO_HARD_LINKS:
            raise
        os.close(os.open(dst, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        os.replace(src, dst)
    else:
        os.unlink(src)


def claim_free_name(src, candidates):
    """Move ``src`` to the first of ``candidates`` (an iterable of paths) that does not exist, never
    replacing one; returns the name taken."""
    for candidate in candidates:
        try:
            move_into_place(src, candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free name for {src}")


#: Temporary files this process is writing (see :func:`temporary`).
_WRITING = set()


@contextmanager
def temporary(tmp, owner=True):
    """The block writes ``tmp``: where it fails or is interrupted, the rank that ``owner``s the file removes it."""
    if owner:
        _WRITING.add(str(tmp))
    try:
        yield
    except BaseException:
        if owner:
            Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        _WRITING.discard(str(tmp))


def remove_temporaries():
    """Remove the temporary files this process is writing."""
    for tmp in list(_WRITING):
        Path(tmp).unlink(missing_ok=True)
