"""The prolongator P and restrictor P^dag of one multigrid level, from its near-null vectors.

Each null vector v_k (k < n_vec) is cut into blocks and chiralities (:class:`~.blocks.Blocking`); on every
block B and chirality s the pieces v_k|_{B,s} are orthonormalized (k in order: Householder QR, :func:`orthonormalize`),
giving the basis V_{B,s,k}. A coarse field c has 2 n_vec dofs per coarse site (the block B),
index s n_vec + k (chirality +1 first), and

    (P c)(x) = sum_{s, k} V_{B(x),s,k}(x) c_{B(x)}[s n_vec + k],     (P^dag f)_B[s n_vec + k] = <V_{B,s,k}, f>.

So P^dag P = 1, P P^dag is the orthogonal projector onto the span of the V's (which holds every v_k), and
P commutes with gamma5 (it never mixes chiralities). Fields here are canonical complex arrays: fine
``[T, Z, Y, X, dofs]`` and coarse ``[Tc, Zc, Yc, Xc, 2 n_vec]``, with optional trailing axes for several
vectors at once; arithmetic and sums in the basis's dtype: complex128 as built, complex64 in the copy :meth:`Transfer.at`
gives a K-cycle below double. The block products are batched BLAS calls arranged so that
the basis (as large as the null vectors) is never copied; they are small products per block, which BLAS runs
on one thread beside the numba backend's (:mod:`hpcmix.backends.blas_threads`).
"""

import numpy as np

from ...errors import HpcmixError


def orthonormalize(v, level=0):
    """``v[..., k, :]`` orthonormalized over k, one independent problem per leading index: the Q of the QR
    factorization of ``v[...]^T`` (LAPACK's Householder QR, batched) with the diagonal of R made real and positive,
    which is the basis Gram-Schmidt gives taking k in order, to rounding; a vector that vanishes within rounding
    against the earlier ones on some block is an error."""
    q, r = np.linalg.qr(np.swapaxes(v, -1, -2))                                  # [..., bd, n], [..., n, n]
    diag = np.diagonal(r, axis1=-2, axis2=-1)
    dependent = np.abs(diag) <= 1e-10 * np.linalg.norm(v, axis=-1)
    if dependent.any():
        k = int(np.argwhere(dependent)[0, -1])
        raise HpcmixError(f"level {level}: null vector {k} is linearly dependent on the earlier ones on some "
                          f"block (n_vec too large for the block, or the setup produced degenerate vectors)")
    q *= (diag / np.abs(diag))[..., None, :]
    return np.ascontiguousarray(np.swapaxes(q, -1, -2))


class Transfer:
    """P and P^dag from the null vectors ``vectors`` (fine canonical ``[n_vec, T, Z, Y, X, dofs]``) on the
    blocks of ``blocking``."""

    def __init__(self, blocking, vectors):
        self.blocking = blocking
        self.n_vec = len(vectors)
        self.coarse_dofs = 2 * self.n_vec
        if self.n_vec > blocking.block_dofs:
            raise HpcmixError(f"level {blocking.level}: n_vec = {self.n_vec} exceeds the {blocking.block_dofs} "
                              f"dofs of one block and chirality")
        blocks = np.empty(blocking.coarse_shape + (2, self.n_vec, blocking.block_dofs), np.complex128)
        for k, v in enumerate(vectors):
            blocks[..., k, :] = blocking.to_blocks(np.asarray(v))                     # [Tc..Xc, 2, bd]
        self.basis = orthonormalize(blocks, blocking.level)                           # [.., 2, n, bd]
        self._views = {}

    @classmethod
    def from_basis(cls, blocking, basis):
        """P from a block-orthonormal ``basis[Tc, Zc, Yc, Xc, 2, n_vec, block_dofs]`` as :attr:`basis` holds it
        (a saved setup's), taken as it is."""
        transfer = cls.__new__(cls)
        transfer.blocking, transfer.n_vec = blocking, basis.shape[-2]
        transfer.coarse_dofs = 2 * transfer.n_vec
        transfer.basis = np.ascontiguousarray(basis, dtype=np.result_type(basis.dtype, np.complex64))
        transfer._views = {}
        return transfer

    def at(self, precision):
        """P with its basis in ``precision``'s compute dtype (complex64 below double: the K-cycle's transfers
        then stream half the bytes), built once; restriction and prolongation compute in that dtype."""
        dtype = np.dtype(precision.compute_dtype)
        if dtype == self.basis.dtype:
            return self
        if dtype not in self._views:
            self._views[dtype] = Transfer.from_basis(self.blocking, self.basis.astype(dtype))
        return self._views[dtype]

    def vectors(self):
        """n_vec fine vectors with P's range, block by block: w_k = P (e_k + e_{n_vec + k}) (basis vector k of
        both chiralities on every block), as canonical arrays, one at a time; a refresh relaxes them again."""
        for k in range(self.n_vec):
            c = np.zeros(self.blocking.coarse_shape + (self.coarse_dofs,), dtype=np.complex128)
            c[..., k] = c[..., self.n_vec + k] = 1
            yield self.prolong(c)

    def restrict(self, fine):
        """P^dag f: fine ``[T, Z, Y, X, dofs, *rest]`` -> coarse ``[Tc, Zc, Yc, Xc, 2 n_vec, *rest]``."""
        f = self.blocking.to_blocks(np.asarray(fine, dtype=self.basis.dtype))         # [.., 2, bd, *rest]
        rest = f.shape[6:]
        f = f.reshape(f.shape[:6] + (-1,))
        c = np.matmul(self.basis, f.conj()).conj()                                    # [.., 2, n, m]
        return c.reshape(self.blocking.coarse_shape + (self.coarse_dofs,) + rest)

    def prolong(self, coarse):
        """P c: coarse ``[Tc, Zc, Yc, Xc, 2 n_vec, *rest]`` -> fine ``[T, Z, Y, X, dofs, *rest]``."""
        c = np.asarray(coarse, dtype=self.basis.dtype)
        rest = c.shape[5:]
        c = c.reshape(self.blocking.coarse_shape + (2, self.n_vec, -1))
        f = np.swapaxes(np.matmul(np.swapaxes(c, -1, -2), self.basis), -1, -2)         # [.., 2, bd, m]
        return self.blocking.from_blocks(f.reshape(f.shape[:6] + rest))

    def unit_vectors(self, columns=None):
        """P e_a for the coarse dofs a in ``columns`` (default all 2 n_vec) at every coarse site together, as
        ``[T, Z, Y, X, dofs, len(columns)]``: column a holds basis vector a of every block (blocks do not overlap)."""
        units = np.eye(self.coarse_dofs)[:, list(range(self.coarse_dofs)) if columns is None else list(columns)]
        return self.prolong(np.broadcast_to(units, self.blocking.coarse_shape + units.shape))
