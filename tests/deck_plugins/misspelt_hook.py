"""A deck-named plugin module whose hook name is misspelt (tests: an error, as pytest gives)."""

from hpcmix import hookimpl


@hookimpl
def solverz():
    return []
