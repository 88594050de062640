"""The linear-operator interface that solvers work with.

An operator maps fields to fields on a vector space (a :class:`~hpcmix.lattice.Lattice` gives the
collective float64 inner product and norm). Solvers compose: a solver applied to an operator is an
operator (its inverse), so a preconditioner is just an operator.
"""


class LinearOperator:
    """``op(x)`` applies the operator; ``op.adjoint()`` its Hermitian conjugate.

    ``space`` provides ``inner(a, b)`` and ``norm2(a)`` (global, float64); ``hermitian`` tells CG
    whether it may run on the operator itself or must use the normal equations; ``flops`` is the
    flop count of one application (for solve reports).
    """

    hermitian = False
    flops = 0

    def __init__(self, space, apply, adjoint=None, *, hermitian=False, flops=0, name="operator"):
        self.space = space
        self._apply = apply
        self._adjoint = adjoint
        self.hermitian = hermitian
        self.flops = flops
        self.name = name

    def __call__(self, x):
        return self._apply(x)

    def adjoint(self):
        if self.hermitian:
            return self
        if self._adjoint is None:
            raise NotImplementedError(f"{self.name} has no adjoint")
        return LinearOperator(self.space, self._adjoint, self._apply, flops=self.flops, name=f"{self.name}^dag")

    def normal(self):
        """A^dag A (Hermitian positive semi-definite)."""
        adj = self.adjoint()
        return LinearOperator(self.space, lambda x: adj(self(x)), hermitian=True, flops=2 * self.flops,
                              name=f"{self.name}^dag {self.name}")
