"""The fallback of a mixed-precision solve: the sloppy operator moving up the precision chain
(:class:`~hpcmix.solvers.precisions.Precisions` ``chain``: from the sloppy precision, each step to the
least precise registered field precision at least twice as precise, ending at the outer one), and
QUDA's limits on true-residual increases (``max_res_increase``, ``max_res_increase_total``) that
decide when the sloppy precision has stopped making progress.

With ``fallback`` on, a solve whose sloppy precision has stopped making progress continues from its
true residual in the next precision of the chain (recorded in the report's ``fallbacks``); with it off,
or at the end of the chain (always so in uniform precision), it stops (QUDA's behaviour).

BiCGstab and GCR also stop making progress without residual increases: on an indefinite operator
BiCGstab wanders and restarted GCR stalls. :class:`Stagnation` calls it so when the residual has not
halved in ``stagnation_window`` iterations (500 by default: a solve that converges to 1e-10 that slowly
would need more than 16000 iterations); it is treated as the increases are.
"""

import math

from ..params import Param


class SloppyOperator:
    """The sloppy operator of a mixed solve of ``op``, moving up the fallback chain on request."""

    def __init__(self, op, precisions, fallback):
        self.op, self.precisions, self.allowed = op, precisions, fallback
        self.level = 0
        self._set(precisions.sloppy, precisions.reconstruct_sloppy)

    def _set(self, precision, reconstruct):
        self.precision = precision
        self.operator = self.op.at(precision, reconstruct)

    def escalate(self, result, why, increases):
        """The sloppy precision has stopped making progress (``why``): continue in the next precision
        of the chain, recorded in ``result.fallbacks``, and reset the ``increases`` counts; False
        (nothing changed) where the chain is exhausted or fallback is off."""
        if not (self.allowed and self.level + 1 < len(self.precisions.chain)):
            return False
        self.level += 1
        new = self.precisions.chain[self.level]
        result.fallbacks.append({"from": self.precision.name, "to": new.name, "iteration": result.iterations,
                                 "reason": why})
        p = self.precisions
        self._set(new, p.reconstruct if new is p.outer else p.reconstruct_for(new))
        increases.reset()
        return True


class ResidualIncreases:
    """QUDA's limits on true-residual increases at reliable updates: ``record(increased)`` counts an
    increase (consecutive and in total; a decrease resets the consecutive count) and says whether
    ``max_res_increase`` or ``max_res_increase_total`` is now exceeded."""

    def __init__(self, consecutive, total):
        self.limit, self.limit_total = consecutive, total
        self.count = self.total = 0

    def record(self, increased):
        if not increased:
            self.count = 0
            return False
        self.count += 1
        self.total += 1
        return self.count > self.limit or self.total > self.limit_total

    def reset(self):
        self.count = self.total = 0

    def describe(self):
        return (f"true residual increased at {self.count} consecutive reliable updates ({self.total} in total; "
                f"max_res_increase = {self.limit}, max_res_increase_total = {self.limit_total})")


#: The default ``stagnation_window``, and the deck key of the solvers that detect stagnation (bicgstab, gcr).
STAGNATION_WINDOW = 500
STAGNATION_PARAMS = {
    "stagnation_window": Param(int, STAGNATION_WINDOW, "stop (or fall back to the next precision) when the "
                               "residual has not halved in this many iterations; 0: never",
                               check=lambda v: None if v >= 0 else "must be >= 0"),
}


class Stagnation:
    """``record(iteration, residual)`` says whether the residual has not fallen below half of its value at
    the last halving (the first residual recorded, at first) within ``window`` iterations (0: never)."""

    def __init__(self, window):
        self.window = window
        self.reset(0)

    def reset(self, iteration):
        """Start anew at ``iteration`` (a fallback to another precision)."""
        self.mark, self.since = math.inf, iteration

    def record(self, iteration, residual):
        if residual <= 0.5 * self.mark:
            self.mark, self.since = residual, iteration
        return 0 < self.window <= iteration - self.since

    def describe(self):
        return (f"stagnation: the residual has not halved from {self.mark:.3e} in {self.window} iterations "
                f"(stagnation_window = {self.window})")
