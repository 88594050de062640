"""Whether a saved multigrid setup (``setup = {load = ...}``) serves this run, and how.

- The file does not exist: allowed only where ``load`` is also the ``save`` target (the first run makes the
  file; the deck's validation refuses a missing ``load`` otherwise): the setup is built.
- The lattice, or the parameters that determine a setup (``levels``, ``setup_tol``, ``setup_maxiter``,
  ``null_precision``, ``seed``), differ from the file's: the setup is built afresh, and a warning names the
  first differing key. A mismatched setup is never used.
- The same parameters and the same operator (:func:`~.persistence.operator_change`): the saved setup is used as
  it is (the same coarse operators bitwise, so the same solves on the same process grid).
- Another operator (a changed gauge field, kappa, ...): with ``refresh = N``, the saved vectors are relaxed
  again with N setup iterations each and P and the coarse operators rebuilt (:class:`~.hierarchy.Hierarchy`,
  "refreshed"); without it the setup is built afresh, with a warning saying why.

:func:`choose` returns (the saved setup to start from or None, whether to refresh it, a line saying what was
done, for the run's log).
"""

from pathlib import Path

from ...io.warn import warn
from ...params import first_difference
from .persistence import SavedSetup, operator_change


def choose(files, lattice, parameters, identity):
    """(saved setup or None, refresh?, note) for the ``setup`` table ``files`` (module doc)."""
    load = files.get("load")
    if not load:
        return None, False, "built"
    if not Path(load).exists():
        return None, False, f"built (no saved setup at {load} yet)"
    saved = SavedSetup(load, lattice)
    difference = first_difference({"lattice": list(lattice.dims), **parameters},
                                  {"lattice": saved.lattice, **saved.parameters})
    if difference:
        key, here, there = difference
        note = f"built afresh: {load} holds a setup made with {key} = {there!r}, this one has {here!r}"
        warn(f"multigrid: {note}")
        return None, False, note
    change = operator_change(identity, saved.operator)
    if change is None:
        return saved, False, f"loaded from {load}"
    if files.get("refresh"):
        return saved, True, f"refreshed from {load} ({change}) with {files['refresh']} setup iterations per vector"
    note = (f"built afresh: {load} holds the setup of another operator ({change}); setup.refresh = N would "
            f"update it from its vectors instead")
    warn(f"multigrid: {note}")
    return None, False, note
