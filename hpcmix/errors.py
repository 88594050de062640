"""Error types. Every user-facing error names where it comes from (file, stage, key).

Exit codes: 2 for every input error (a bad deck, a bad file: unreadable, truncated, a failed checksum,
whether ``hpcmix check`` or the run finds it), 1 for an error of the computation (a solve that does
not converge, a singular matrix), 128 + the signal number for a run ended by SIGTERM or SIGINT.
"""

import signal


class HpcmixError(Exception):
    """Base class of the errors hpcmix reports to a user (no traceback, non-zero exit).

    ``collective`` is True where every rank is known to raise the same error (deck validation,
    collectively checked I/O), so the job can end cleanly instead of being aborted.
    """

    exit_code = 1

    def __init__(self, message, *, collective=False):
        super().__init__(message)
        self.collective = collective


class DeckError(HpcmixError):
    """A bad input deck: names the file, the stage and the key."""

    exit_code = 2

    def __init__(self, message, *, file=None, stage=None, key=None):
        where = []
        if file:
            where.append(str(file))
        if stage:
            where.append(f"stage '{stage}'")
        if key is not None:          # an empty key ("" = 1 in a deck) is still named
            where.append(f"key '{key}'")
        prefix = ": ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message, collective=True)
        self.file, self.stage, self.key, self.reason = file, stage, key, message


class DeckErrors(DeckError):
    """Every error found in a deck, reported together (``errors``: DeckError each, one line each)."""

    def __init__(self, errors):
        HpcmixError.__init__(self, "\n".join(map(str, errors)), collective=True)
        self.errors = errors
        first = errors[0]
        self.file, self.stage, self.key, self.reason = first.file, first.stage, first.key, first.reason


def combined(errors):
    """One exception for the DeckErrors and DeckError ``errors`` (flattened): the error itself where
    there is one, else a DeckErrors."""
    flat = [e for exc in errors for e in getattr(exc, "errors", [exc])]
    return flat[0] if len(flat) == 1 else DeckErrors(flat)


class FormatError(HpcmixError):
    """A file that cannot be read as what it claims to be (truncated, corrupt, wrong shape or checksum)."""

    exit_code = 2

    def __init__(self, message, *, file=None):
        super().__init__(f"{file}: {message}" if file else message)
        self.file = file


class SolverError(HpcmixError):
    """A solver that cannot proceed (breakdown, non-finite numbers)."""


class Interrupted(BaseException):
    """The run was ended by SIGTERM (a batch system's time limit) or SIGINT (Ctrl-C). A BaseException, as
    KeyboardInterrupt, so that no ``except Exception`` takes it for an error of the work it stopped.
    ``where`` (deck and stage) and ``partial`` (the results kept, rank 0) are filled in on the way out."""

    def __init__(self, signum):
        self.signum, self.exit_code = signum, 128 + signum
        self.where, self.partial = "", None
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
