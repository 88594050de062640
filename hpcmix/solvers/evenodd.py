"""Even-odd (Schur) preconditioned solves as a solver composition.

``EvenOdd(inner)`` applied to an operator that offers ``schur()`` solves the full system
M x = b by solving the Schur complement Mhat x_e = prepare(b) with ``inner`` (from the even part of a
starting guess x0 where one is given) and reconstructing x = reconstruct(x_e, b); the reported true
residual is that of the full system. The inner tolerance is tightened (and the solve repeated from the
current x_e) until the full system's true residual meets ``tol``.
"""

import time

import numpy as np

from .base import InverseOperator, residual


class EvenOdd:
    name = "evenodd"

    def __init__(self, inner):
        self.inner = inner
        self.tol = inner.tol

    def __call__(self, dirac):
        return InverseOperator(self, dirac)

    def solve(self, dirac, b, x0=None):
        t0 = time.perf_counter()
        op = dirac.operator()
        schur, prepare, reconstruct = dirac.schur()
        bhat = prepare(b)
        bnorm = np.sqrt(op.space.norm2(b))
        inner_tol, xe, total = self.tol, None if x0 is None else dirac.parity_part(x0, 0), None
        for _ in range(8):
            self.inner.tol = inner_tol
            res = self.inner.solve(schur, bhat, xe)
            total = res if total is None else total.absorb(res)
            xe = res.x
            x = reconstruct(xe, b)
            true_res = float(np.sqrt(op.space.norm2(residual(op, b, x))) / bnorm) if bnorm > 0 else 0.0
            if true_res <= self.tol or not res.converged:
                break
            inner_tol *= 0.5 * self.tol / true_res
        self.inner.tol = self.tol
        total.x = x
        total.true_residual = true_res
        total.converged = bool(true_res <= self.tol)
        total.reason = ("converged (true residual of the full system)" if total.converged
                        else f"{total.reason}; full-system true residual {true_res:.3e}")
        total.solver = f"evenodd({total.solver})"
        total.flops += 2 * op.flops
        total.seconds = time.perf_counter() - t0
        return total



class EvenOddNormal:
    """Solves (M^dag M) x = b for operators whose M^dag M is parity-diagonal (staggered:
    M^dag M = 4 m^2 - D^2). With ``evenodd`` the even and odd parts are separate solves with
    ``inner`` on ``dirac.normal_operator(parity)`` (as MILC's ks_congrad on each parity), otherwise
    one solve on the whole lattice. ``dirac.parity_part`` and ``dirac.join_parities`` split and join
    its fields (masked canonical arrays, or a backend's half-lattice fields). The record combines both
    solves and reports the true residual |b - M^dag M x| / |b| of the full system."""

    name = "evenodd_normal"

    def __init__(self, inner, evenodd=True):
        self.inner, self.evenodd = inner, evenodd

    def __call__(self, dirac):
        return InverseOperator(self, dirac)

    def solve(self, dirac, b, x0=None):
        t0 = time.perf_counter()
        full = dirac.normal_operator()
        if not self.evenodd:
            return self.inner.solve(full, b, x0)
        total, parts = None, []
        for parity in (0, 1):
            res = self.inner.solve(dirac.normal_operator(parity), dirac.parity_part(b, parity),
                                   None if x0 is None else dirac.parity_part(x0, parity))
            parts.append(res.x)
            total = res if total is None else total.absorb(res, repeated=False)
        x = dirac.join_parities(parts)
        bnorm = np.sqrt(full.space.norm2(b))
        true_res = float(np.sqrt(full.space.norm2(residual(full, b, x))) / bnorm) if bnorm > 0 else 0.0
        total.x = x
        total.true_residual = true_res
        total.converged = bool(true_res <= self.inner.tol)
        total.reason = ("converged (true residual of M^dag M on both parities)" if total.converged
                        else f"{total.reason}; true residual of M^dag M {true_res:.3e}")
        total.solver = f"evenodd({total.solver}) on MdagM"
        total.flops += full.flops
        total.seconds = time.perf_counter() - t0
        return total
