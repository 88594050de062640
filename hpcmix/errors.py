"""Error types. Every user-facing error names where it comes from (file, stage, key)."""


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
        if key:
            where.append(f"key '{key}'")
        prefix = ": ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message, collective=True)
        self.file, self.stage, self.key, self.reason = file, stage, key, message


class FormatError(HpcmixError):
    """A file that cannot be read as what it claims to be (truncated, corrupt, wrong shape or checksum)."""

    exit_code = 2

    def __init__(self, message, *, file=None):
        super().__init__(f"{file}: {message}" if file else message)
        self.file = file


class SolverError(HpcmixError):
    """A solver that cannot proceed (breakdown, non-finite numbers)."""
