"""Deflation as a solver composition (as GPT's inverter/deflate.py): ``Deflated(inner, eigen)`` solves
A x = b with ``inner`` from the low-mode guess

    x0 = V Lambda^-1 V^dag c,    c = b (A Hermitian, the eigenpairs' operator)  or  A^dag b (otherwise:
                                      the pairs are those of A^dag A, whose equations CG solves),

V, Lambda the eigenvectors and eigenvalues of ``eigen`` (an :class:`~hpcmix.solvers.trlm.EigenResult`
on A's space, or on the space of A^dag A), which removes the low modes from the initial error; a given
starting guess x0 is corrected instead (x0 + V Lambda^-1 V^dag (c - A^dag A x0), or c - A x0). The
projection runs with the block kernels in the vectors' precision and float64 coefficients. Compose it
with the even-odd solve: ``EvenOdd(Deflated(CG(...), eigen))``, the pairs those of Mhat^dag Mhat.
"""

import numpy as np

from .base import InverseOperator


class Deflated:
    name = "deflated"

    def __init__(self, inner, eigen):
        self.inner, self.eigen = inner, eigen

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
        V, lam = self.eigen.vectors, self.eigen.eigenvalues
        coeffs = sp.block_inner(V, sp.convert(r, V.precision)) / lam
        out = sp.zeros_like(b) if x0 is None else sp.copy(x0, np.result_type(b, x0))
        update = sp.block_lincomb(sp.new(V.precision), coeffs, V)
        return sp.axpy(1.0, update, out)

    def solve(self, op, b, x0=None):
        res = self.inner.solve(op, b, self.guess(op, b, x0))
        res.solver = f"deflated({res.solver}, {len(self.eigen.eigenvalues)} modes)"
        return res
