"""The coarse operator of a multigrid level as a stencil on coarse canonical fields ``c[Tc, Zc, Yc, Xc, N]``
(N = 2 n_vec dofs per coarse site, chirality +1 first):

    (D c)(x) = X(x) c(x) + sum_mu [ Y_mu^+(x) c(x + mu) + Y_mu^-(x) c(x - mu) ],

a site term X and 8 hopping matrices Y (N x N each) per coarse site, with periodic wrap over the coarse global
lattice through the process grid (the fine operator's boundary phases sit inside Y, from the Galerkin product).
Built from P^dag A P by :func:`~.galerkin.galerkin`, in double; :meth:`CoarseOperator.at` gives it with X, Y and
its fields in another precision: single, or half/quarter (QUDA's fixed point, one norm per matrix row for X and
Y, one per site for fields). The matrices are held as the values their storage represents, in the compute dtype
(complex64 below double): this numpy stencil has the rounding of low-precision storage, not yet its memory
saving (:meth:`CoarseOperator.nbytes` reports the stored size). Its adjoint is the stencil of the
conjugate-transposed matrices: X^dag(x), forward Y_mu^-(x + mu)^dag and backward Y_mu^+(x - mu)^dag.
Its space is the coarse :class:`~hpcmix.lattice.Lattice` (BLAS-1 on canonical arrays, float64 global sums), so
GCR, MR and BiCGstab run on it unchanged.
"""

import numpy as np

from ...errors import HpcmixError
from ...operators.base import LinearOperator
from ...precision import DOUBLE

SIGNS = (1, -1)
#: The index of every site of a canonical field's [T, Z, Y, X] axes.
ALL = (slice(None),) * 4


def stored(precision, matrices):
    """``matrices[..., N, N]`` as stored in ``precision`` (one norm per row for fixed point), in its compute dtype."""
    return np.ascontiguousarray(precision.round(np.asarray(matrices), matrices.ndim - 1))


class CoarseOperator(LinearOperator):
    """D on ``lattice`` (the coarse lattice) from ``X[Tc, Zc, Yc, Xc, N, N]`` and ``Y[mu][i]`` (i = 0: forward
    +mu, 1: backward -mu) of the same shape, stored in ``precision``; ``level`` (>= 1) names it."""

    def __init__(self, lattice, X, Y, precision=DOUBLE, level=1, base=None):
        self.X = stored(precision, X)
        self.Y = [[stored(precision, y) for y in pair] for pair in Y]
        self.lattice, self.level, self.dofs = lattice, level, self.X.shape[-1]
        self.base = base or self
        self._views, self._adjoint_op = {}, None
        flops = 8 * 9 * self.dofs ** 2 * lattice.volume
        super().__init__(lattice, self.apply, hermitian=False, flops=flops, name=f"D_coarse[level {level}]",
                         precision=precision)

    def apply(self, c):
        """D c (``c`` rounded to this operator's precision first; the result stored in it)."""
        c = self.precision.round(c)
        pg = self.lattice.pg
        shifts = [(mu, i, pg.start_shift(c, mu, s)) for mu in range(4) for i, s in enumerate(SIGNS)]
        out = np.matmul(self.X, c[..., None])
        for mu, i, handle in shifts:
            out += np.matmul(self.Y[mu][i], handle.wait()[..., None])
        return self.precision.round(out[..., 0]) if self.precision.has_norm else out[..., 0]

    def hop(self, w, mu, sign, sites=ALL):
        """Y_mu^{sign}(x) w(x + sign mu) for ``w[Tc, Zc, Yc, Xc, N, m]`` at the sites ``sites`` (an index of the
        [Tc, Zc, Yc, Xc] axes) only (the Galerkin product of the next level)."""
        return np.matmul(self.Y[mu][SIGNS.index(sign)][sites], self.lattice.shift(w, mu, sign)[sites])

    def adjoint(self):
        """D^dag as a stencil (module doc), built once."""
        if self._adjoint_op is None:
            h = lambda a: np.conj(np.swapaxes(a, -1, -2))
            sh = self.lattice.shift
            Y = [[h(sh(self.Y[mu][1], mu, 1)), h(sh(self.Y[mu][0], mu, -1))] for mu in range(4)]
            hx = h(self.X)
            adj = CoarseOperator(self.lattice, hx, Y, self.precision, self.level)
            adj.X, adj.Y = hx, Y                   # the exact adjoint of the stored values, not rounded again
            adj._adjoint_op, self._adjoint_op = self, adj
        return self._adjoint_op

    def at(self, precision, reconstruct=None):
        """This operator with X, Y and fields stored in ``precision`` (built once from the double one)."""
        if reconstruct not in (None, 18):
            raise HpcmixError(f"{self.name} has no gauge links to compress (reconstruct {reconstruct})")
        base = self.base
        if precision is base.precision:
            return base
        if precision.name not in base._views:
            base._views[precision.name] = CoarseOperator(self.lattice, base.X, base.Y, precision, self.level, base)
        return base._views[precision.name]

    def gamma5(self, c):
        """Gamma5 c of the coarse level: +1 on the first N/2 dofs (chirality +1), -1 on the rest."""
        out = np.array(c)
        out[..., self.dofs // 2:] *= -1
        return out

    def nbytes(self):
        """Storage of X and the 8 Y in this precision (bytes, this rank): 2 reals per entry, and a float32 norm
        per matrix row for fixed point."""
        rows = 9 * self.X.size // self.dofs
        return 2 * 9 * self.X.size * self.precision.bytes_per_real + (4 * rows if self.precision.has_norm else 0)
