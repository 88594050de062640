"""Watching the outermost running solve: what reports its progress and what keeps snapshots of it.

Every Krylov solve announces itself (:func:`begin`, with its target ``tol``), each iteration (:func:`tick`,
through ``SolveResult.step``), the solution it has accumulated whenever it folds the partial solution
into it in the outer precision (:func:`snapshot`: a reliable update, a restart) and its end (:func:`end`).
Only the outermost solve running is followed (a preconditioner's inner solves are part of it); the
watchers installed meanwhile (:func:`watching`: the pipeline's :class:`~hpcmix.progress.Progress`, a
propagator's snapshots of the column it solves) get its calls, each optional (``begin``, ``tick``,
``snapshot``, ``end``). Without a watcher every call returns at once.
"""

import weakref
from contextlib import contextmanager

watchers = []
_active = [lambda: None]       # a weak reference to the outermost running solve's record


def _running():
    """The record of the outermost running solve, or None (also when an error ended it: nobody holds it)."""
    return _active[0]()


def _call(method, result, *args):
    for w in list(watchers):
        fn = getattr(w, method, None)
        if fn is not None:
            fn(result, *args)


def begin(result, tol):
    if _running() is None:
        _active[0] = weakref.ref(result)
        _call("begin", result, tol)


def tick(result):
    if result is _running():
        _call("tick", result)


def snapshot(result, y):
    if result is _running():
        _call("snapshot", result, y)


def end(result):
    if result is _running():
        _call("end", result)
        _active[0] = lambda: None


def reset():
    """Forget a solve that an error left unfinished (a new stage starts)."""
    _active[0] = lambda: None


@contextmanager
def watching(watcher):
    """Install ``watcher`` for the block."""
    watchers.append(watcher)
    try:
        yield watcher
    finally:
        watchers.remove(watcher)
