"""Deflation as a solver composition (as GPT's inverter/deflate.py): ``Deflated(inner, eigen)`` solves
A x = b with ``inner`` from the low-mode guess

    x0 = V Lambda^-1 V^dag c,    c = b (A Hermitian, the eigenpairs' operator)  or  A^dag b (otherwise:
                                      the pairs are those of A^dag A, whose equations CG solves),

V, Lambda the eigenvectors and eigenvalues of ``eigen`` (an :class:`~hpcmix.solvers.trlm.EigenResult`
on A's space, or on the space of A^dag A), which removes the low modes from the initial error; a given
starting guess x0 is corrected instead (x0 + V Lambda^-1 V^dag (c - A^dag A x0), or c - A x0).

An inner solver that declares ``redeflates`` (CG) is handed the same :class:`LowModes` and applies the
correction again at its reliable updates (QUDA's deflated CG; ``redeflate = False``: the guess only): the low-mode error that the sloppy
iterations bring back (rounding in half precision feeds it) is removed from the solution each time the
true residual is recomputed. Compose it with the even-odd solve: ``EvenOdd(Deflated(CG(...), eigen))``,
the pairs those of Mhat^dag Mhat.
"""

import numpy as np

from .base import InverseOperator


class LowModes:
    """The low-mode part of the inverse of a Hermitian operator, V Lambda^-1 V^dag, from an EigenResult.
    The projection runs with the block kernels: V^dag r with r in the vectors' precision, float64
    coefficients, and V c summed in float64 into a field of x's precision."""

    def __init__(self, eigen):
        self.vectors, self.eigenvalues = eigen.vectors, np.asarray(eigen.eigenvalues, dtype=np.float64)

    def __len__(self):
        return len(self.eigenvalues)

    def correct(self, sp, r, x):
        """x += V Lambda^-1 V^dag r (``x`` updated in place and returned)."""
        V = self.vectors
        coeffs = sp.block_inner(V, sp.convert(r, V.precision)) / self.eigenvalues
        return sp.axpy(1.0, sp.block_lincomb(sp.zeros_like(x), coeffs, V), x)


class Deflated:
    name = "deflated"

    def __init__(self, inner, eigen, redeflate=True):
        self.inner, self.modes = inner, LowModes(eigen)
        if redeflate and getattr(inner, "redeflates", False):
            inner.low_modes = self.modes

    def __call__(self, op):
        return InverseOperator(self, op)

    @property
    def tol(self):
        """The inner solver's tolerance (what compositions such as EvenOdd adjust)."""
        return self.inner.tol

    @tol.setter
    def tol(self, value):
        self.inner.tol = value

    def guess(self, op, b, x0=None):
        """The deflated starting guess (module doc), stored as b is."""
        sp = op.space
        normal = not op.hermitian
        c = op.adjoint()(b) if normal else b
        if x0 is not None:
            ax = op(x0)
            r = sp.axpy(-1.0, op.adjoint()(ax) if normal else ax, sp.copy(c))
        else:
            r = c
        out = sp.zeros_like(b) if x0 is None else sp.copy(x0, np.result_type(b, x0))
        return self.modes.correct(sp, r, out)

    def solve(self, op, b, x0=None):
        res = self.inner.solve(op, b, self.guess(op, b, x0))
        res.solver = f"deflated({res.solver}, {len(self.modes)} modes)"
        return res
