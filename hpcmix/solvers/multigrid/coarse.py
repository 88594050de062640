"""The coarse operator of a multigrid level as a stencil on coarse canonical fields ``c[Tc, Zc, Yc, Xc, N]``
(N = 2 n_vec dofs per coarse site, chirality +1 first):

    (D c)(x) = X(x) c(x) + sum_mu [ Y_mu^+(x) c(x + mu) + Y_mu^-(x) c(x - mu) ],

a site term X and 8 hopping matrices Y (N x N each) per coarse site, with periodic wrap over the coarse global
lattice through the process grid (the fine operator's boundary phases sit inside Y, from the Galerkin product).
Built from P^dag A P by :func:`~.galerkin.galerkin`, in double; :meth:`CoarseOperator.at` gives it with X, Y and
its fields in another precision: single, or half/quarter (QUDA's fixed point, one norm per matrix row for X and
Y, one per site for fields). The matrices are kept as stored (int16 and row norms in half), in the layout of the
backend's ``coarse_stencil`` kernel (:mod:`hpcmix.backends.kernels.coarse`), which decodes them as it reads and
accumulates in the compute dtype (float32 below double); ``X`` and ``Y`` decode them on demand. Its adjoint is the
stencil of the conjugate-transposed matrices: X^dag(x), forward Y_mu^-(x + mu)^dag and backward Y_mu^+(x - mu)^dag.
Its space is the coarse :class:`~hpcmix.lattice.Lattice` (BLAS-1 on canonical arrays, float64 global sums), so
GCR, MR and BiCGstab run on it unchanged.
"""

import numpy as np

from ...backends.reference import coarse_stencil
from ...errors import HpcmixError
from ...operators.base import LinearOperator
from ...precision import DOUBLE, SINGLE
from ...precision.stored import as_complex, as_reals

SIGNS = (1, -1)


def pack(X, Y, precision):
    """X and the 8 Y stored in ``precision`` in the stencil kernel's layout (:mod:`hpcmix.backends.kernels.coarse`:
    matrix d = 0 is X, d = 1 + 2 mu + i is Y[mu][i]): (``m[S, 9, N, 2, N]``, row norms ``[S, 9, N]`` or None)."""
    a = np.stack([X] + [y for pair in Y for y in pair], axis=-3)
    data, norm = precision.encode_reals(as_reals(a.reshape((-1,) + a.shape[-3:])), 3)
    return np.ascontiguousarray(data.transpose(0, 1, 3, 4, 2)), norm


def unpack(m, norm, precision, shape):
    """The values :func:`pack` stored, as (X, Y) of the coarse sites ``shape`` in the compute dtype."""
    a = as_complex(precision.decode_reals(m.transpose(0, 1, 4, 2, 3), norm, 3))
    a = a.reshape(tuple(shape) + a.shape[1:])
    return a[..., 0, :, :], [[a[..., 1 + 2 * mu + i, :, :] for i in range(2)] for mu in range(4)]


def planar(c, out):
    """The complex coarse field ``c[..., N]`` into planar reals ``out[S, 2, N]``."""
    c = c.reshape(out.shape[0], -1)
    out[:, 0], out[:, 1] = c.real, c.imag


class CoarseOperator(LinearOperator):
    """D on ``lattice`` (the coarse lattice) from ``X[Tc, Zc, Yc, Xc, N, N]`` and ``Y[mu][i]`` (i = 0: forward
    +mu, 1: backward -mu) of the same shape, stored in ``precision`` (``storage``, where given, keeps the
    matrices in another one: the adjoint of a fixed-point operator, whose row norms are column norms of its
    transpose); applied by ``backend``'s ``coarse_stencil`` kernel (the numpy reference without one); ``level``
    (>= 1) names it."""

    def __init__(self, lattice, X, Y, precision=DOUBLE, level=1, base=None, backend=None, storage=None):
        self.lattice, self.level, self.dofs = lattice, level, X.shape[-1]
        self.base, self.backend = base or self, backend
        self.storage = storage or precision
        self.kernel = backend.kernel("coarse_stencil") if backend is not None else coarse_stencil
        if self.base is self and self.storage is DOUBLE:
            self._XY, self._packed = (np.asarray(X, dtype=np.complex128), Y), None     # packed on first use
        else:
            self._XY, self._packed = None, pack(X, Y, self.storage)
        self._views, self._adjoint_op = {}, None
        flops = 8 * 9 * self.dofs ** 2 * lattice.volume
        super().__init__(lattice, self.apply, hermitian=False, flops=flops, name=f"D_coarse[level {level}]",
                         precision=precision)

    @property
    def X(self):
        """The site term as the stored values (compute dtype), ``[Tc, Zc, Yc, Xc, N, N]``."""
        return self._matrices()[0]

    @property
    def Y(self):
        """The hopping matrices as the stored values: ``Y[mu][i]``, i = 0 forward, 1 backward."""
        return self._matrices()[1]

    def _matrices(self):
        if self._XY is not None:
            return self._XY
        return unpack(*self._packed, self.storage, self.lattice.shape)

    def apply(self, c):
        """D c (``c`` rounded to this operator's precision first; the result stored in it), the 8 neighbours
        shifted through the process grid (all started before the first is waited for)."""
        c = self.precision.round(c)
        if self._packed is None:
            self._packed = pack(*self._XY, self.storage)
        pg = self.lattice.pg
        shifts = [pg.start_shift(c, mu, s) for mu in range(4) for s in SIGNS]
        real = c.real.dtype
        v = np.empty((9, c.size // self.dofs, 2, self.dofs), real)
        planar(c, v[0])
        for d, handle in enumerate(shifts, 1):
            planar(handle.wait(), v[d])
        out = np.empty(v.shape[1:], real)
        self.kernel(out, *self._packed, v)
        result = (out[:, 0] + 1j * out[:, 1]).reshape(c.shape)
        return self.precision.round(result) if self.precision.has_norm else result

    def adjoint(self):
        """D^dag as a stencil (module doc), built once from the stored values, kept exactly (in the compute
        dtype's IEEE precision where this one is fixed point)."""
        if self._adjoint_op is None:
            h = lambda a: np.conj(np.swapaxes(a, -1, -2))
            sh = self.lattice.shift
            X, Y = self._matrices()
            hY = [[h(sh(Y[mu][1], mu, 1)), h(sh(Y[mu][0], mu, -1))] for mu in range(4)]
            exact = DOUBLE if X.dtype == np.complex128 else SINGLE
            adj = CoarseOperator(self.lattice, h(X), hY, self.precision, self.level, backend=self.backend,
                                 storage=exact)
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
            base._views[precision.name] = CoarseOperator(self.lattice, base.X, base.Y, precision, self.level, base,
                                                         base.backend)
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
