"""When a mixed-precision Krylov solver replaces its iterated residual by the true one.

The logic of QUDA's ``ReliableUpdates`` (include/reliable_updates.h, as used by inv_cg_quda.cpp and
inv_bicgstab_quda.cpp), one instance per solve. Norms are of the residual the solver iterates on.

**delta rule** (``reliable_delta`` = delta; QUDA's default). With rNorm the iterated residual norm,
r0Norm its value at the last update and maxrx, maxrr the largest iterated norm since then:

    updateX = rNorm < delta r0Norm  and  r0Norm <= maxrx
    updateR = (rNorm < delta maxrr  and  r0Norm <= maxrr)  or  updateX

and an update is due when either holds: the residual has fallen by delta relative to the largest
since the last update. ``updateX`` also marks the updates at which a true residual larger than the
previous one counts as an increase (``max_res_increase``).

**van der Vorst-Ye** (``alternative_reliable``; H. A. van der Vorst and Q. Ye, SIAM J. Sci. Comput.
22 (2000) 835). An estimate d of the deviation between iterated and true residual grows each
iteration by u rNorm + uhigh |A| |x_partial| (u, uhigh: unit roundoff of the sloppy and outer
precision; |x_partial| estimated from the accumulated alpha^2 |p|^2); with deps = sqrt(u) and
dinit = uhigh (|r| + |A| |y|) at the last update, an update is due when

    (d <= deps |r_old|  or  1.1 dinit > deps r0Norm)  and  d_new > deps rNorm  and  d_new > 1.1 dinit.
"""

import math


class ReliableUpdates:
    """Trigger state of one solve. ``evaluate(rnorm, r2_old)`` after each sloppy step says whether to
    update (and sets ``update_x``); ``accumulate(alpha, p2)`` follows a step without an update;
    ``replaced(rnorm, ynorm)`` follows an update (``increased(rnorm)`` first tells whether the new true
    residual counts as an increase)."""

    def __init__(self, rnorm, delta, alternative=False, u=0.0, uhigh=0.0, anorm=0.0):
        self.delta, self.alternative = delta, alternative
        self.u, self.uhigh, self.anorm = u, uhigh, anorm
        self.deps = math.sqrt(u)
        self.rnorm = self.r0norm = self.maxrx = self.maxrr = rnorm
        self.update_x = False
        self.dinit = self.d = uhigh * rnorm
        self.d_new = 0.0
        self.pnorm = 0.0

    def evaluate(self, rnorm, r2_old):
        self.rnorm = rnorm
        if self.alternative:
            self.update_x = ((self.d <= self.deps * math.sqrt(r2_old) or 1.1 * self.dinit > self.deps * self.r0norm)
                             and self.d_new > self.deps * rnorm and self.d_new > 1.1 * self.dinit)
            return self.update_x
        self.maxrx = max(self.maxrx, rnorm)
        self.maxrr = max(self.maxrr, rnorm)
        self.update_x = rnorm < self.delta * self.r0norm and self.r0norm <= self.maxrx
        return self.update_x or (rnorm < self.delta * self.maxrr and self.r0norm <= self.maxrr)

    def force(self):
        """An update the solver makes for its own reasons (the iterated residual claims convergence)."""
        self.update_x = True

    def accumulate(self, alpha, p2):
        """After x_partial += alpha p with |p|^2 = p2 (van der Vorst-Ye's error estimate)."""
        if self.alternative:
            self.d = self.d_new
            self.pnorm += abs(alpha) ** 2 * p2
            self.d_new = self.d + self.u * self.rnorm + self.uhigh * self.anorm * math.sqrt(self.pnorm)

    def increased(self, rnorm):
        """Whether the true residual norm ``rnorm`` of this update counts as an increase."""
        return self.update_x and rnorm > self.r0norm

    def replaced(self, rnorm, ynorm):
        """After the iterated residual was replaced by the true one of norm ``rnorm`` (solution norm
        ``ynorm``)."""
        if self.alternative:
            self.dinit = self.uhigh * (rnorm + self.anorm * ynorm)
            self.d = self.d_new
            self.pnorm = 0.0
            self.d_new = self.dinit
        self.rnorm = self.r0norm = self.maxrx = self.maxrr = rnorm
        self.update_x = False
