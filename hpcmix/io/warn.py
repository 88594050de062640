"""User-facing warnings (printed once, by rank 0, by the command line).

A check that failed on data loaded anyway (``verify = false``) is a :class:`VerificationWarning`,
which carries the problem alone, so a caller (``hpcmix convert --no-verify``) can collect what
failed and record it.
"""

import warnings


class HpcmixWarning(UserWarning):
    pass


class VerificationWarning(HpcmixWarning):
    """A failed load check on ``path`` that ``verify = false`` turned into a warning."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem} (verify = false: loading anyway)")
        self.path, self.problem = path, problem


def warn(message):
    warnings.warn(message, HpcmixWarning, stacklevel=2)


def warn_unverified(path, problem):
    """Warn that a check on ``path`` failed and the data is loaded anyway."""
    warnings.warn(VerificationWarning(path, problem), stacklevel=2)
