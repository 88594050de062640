"""User-facing warnings (printed once, by rank 0, by the command line)."""

import warnings


class HpcmixWarning(UserWarning):
    pass


def warn(message):
    warnings.warn(message, HpcmixWarning, stacklevel=2)
