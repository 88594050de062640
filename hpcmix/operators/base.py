"""The linear-operator interface that solvers work with.

An operator maps fields to fields on a vector space (a :class:`~hpcmix.lattice.Lattice` gives the
collective float64 inner product and norm). Solvers compose: a solver applied to an operator is an
operator (its inverse), so a preconditioner is just an operator.

Precision. An operator works in one storage precision (``precision``, a
:class:`~hpcmix.precision.FieldPrecision`; ``reconstruct`` for its gauge links). ``op.at(precision,
reconstruct)`` is the same operator in another precision (GPT's ``converted``): a mixed-precision
solver given the double operator asks it for its sloppy copy this way, so solvers never need to know
which Dirac object is behind an operator. Operators built from a Dirac object pass its factory as
``at``; adjoints and normal operators derive theirs from it.
"""

from ..errors import HpcmixError
from ..precision import DOUBLE


class LinearOperator:
    """``op(x)`` applies the operator; ``op.adjoint()`` its Hermitian conjugate.

    ``space`` provides ``inner(a, b)`` and ``norm2(a)`` (global, float64); ``hermitian`` tells CG
    whether it may run on the operator itself or must use the normal equations; ``flops`` is the
    flop count of one application (for solve reports); ``precision`` and ``reconstruct`` say how its
    fields and links are stored, and ``at`` (a callable ``(precision, reconstruct) -> LinearOperator``,
    or None) gives it in another precision.
    """

    hermitian = False
    flops = 0

    def __init__(self, space, apply, adjoint=None, *, hermitian=False, flops=0, name="operator",
                 precision=DOUBLE, reconstruct=18, at=None):
        self.space = space
        self._apply = apply
        self._adjoint = adjoint
        self.hermitian = hermitian
        self.flops = flops
        self.name = name
        self.precision, self.reconstruct = precision, reconstruct
        self._at = at

    def __call__(self, x):
        return self._apply(x)

    def adjoint(self):
        if self.hermitian:
            return self
        if self._adjoint is None:
            raise NotImplementedError(f"{self.name} has no adjoint")
        return LinearOperator(self.space, self._adjoint, self._apply, flops=self.flops, name=f"{self.name}^dag",
                              **self._derived(lambda op: op.adjoint()))

    def normal(self):
        """A^dag A (Hermitian positive semi-definite)."""
        adj = self.adjoint()
        return LinearOperator(self.space, lambda x: adj(self(x)), hermitian=True, flops=2 * self.flops,
                              name=f"{self.name}^dag {self.name}", **self._derived(lambda op: op.normal()))

    def at(self, precision, reconstruct=None):
        """This operator with fields stored in ``precision`` and links with ``reconstruct`` (default:
        18); itself where that is how it already works. An operator without a factory for other
        precisions says so."""
        reconstruct = 18 if reconstruct is None else reconstruct
        if precision is self.precision and reconstruct == self.reconstruct:
            return self
        if self._at is None:
            raise HpcmixError(f"operator {self.name} ({self.precision.name}, reconstruct {self.reconstruct}) cannot "
                              f"be given in precision '{precision.name}' with reconstruct {reconstruct}")
        return self._at(precision, reconstruct)

    def _derived(self, transform):
        """Keyword arguments for an operator derived from this one by ``transform`` (adjoint, normal):
        the same precision, and ``at`` giving the derived operator of ``self.at(...)``."""
        at = None if self._at is None else (lambda p, r: transform(self._at(p, r)))
        return {"precision": self.precision, "reconstruct": self.reconstruct, "at": at}


class CanonicalParities:
    """Splitting and joining the parities of canonical whole-lattice fields (what the even-odd solvers ask
    of an operator; a backend's FullFields hold their parities apart). Needs ``parity_mask(parity)``."""

    def parity_part(self, psi, parity):
        """psi on the sites of ``parity``, zero elsewhere."""
        return psi * self.parity_mask(parity)

    def join_parities(self, parts):
        """The field equal to ``parts[p]`` on the sites of parity p (each part vanishing off its parity)."""
        return parts[0] + parts[1]
