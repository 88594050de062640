"""Reference (numpy) implementations of the backend kernels on the even-odd row layout.

Every kernel here is the oracle its faster versions are tested against. Kernels take fields
(:class:`hpcmix.fields.Field`) and compute in the precision's compute dtype; outputs are encoded in
the output field's precision (one norm per site for fixed point).
"""

import numpy as np

from ..precision.reconstruct import unpack
from .kernels.wilson import B


def _gamma():
    """g_mu = [[0, B_mu], [B_mu^dag, 0]] from the blocks the generated kernels use."""
    g = np.zeros((4, 4, 4), np.complex128)
    for mu in range(4):
        b = np.array([[complex(*e) for e in row] for row in B[mu]])
        g[mu, :2, 2:] = b
        g[mu, 2:, :2] = b.conj().T
    return g


GAMMA = _gamma()
#: B_mu, the upper-right 2x2 block of g_mu
B_MATRIX = GAMMA[:, :2, 2:]


def decode_rows(field, rows=slice(None)):
    """The field's rows (ghosts included) decoded to real compute values ``[n, k, Xh]``, on the host (a device
    backend's arrays copied)."""
    to_host = field.backend.to_host
    data = np.swapaxes(to_host(field.data[rows]), 1, 2)
    norm = None if field.norm is None else to_host(field.norm[rows])
    return np.swapaxes(field.precision.decode_reals(data, norm, 2), 1, 2)


def encode_rows(out, rows, values):
    """Store real host values ``[n, k, Xh]`` into ``out``'s ``rows`` in its precision (on its backend)."""
    data, norm = out.precision.encode_reals(np.swapaxes(values, 1, 2).astype(np.float64), 2)
    out.data[rows] = out.backend.asarray(np.ascontiguousarray(np.swapaxes(data, 1, 2)))
    if norm is not None:
        out.norm[rows] = out.backend.asarray(norm)


def neighbour_rows(psi, halo, layout, parity, d, rows):
    """The direction-d neighbours in ``psi`` (parity 1 - ``parity``) of the sites of ``rows``, decoded:
    ``[n, k, Xh]`` (only the rows read are decoded: ghost rows still in flight are not)."""
    nb = decode_rows(psi, layout.row_neighbour[d, rows])
    off = layout.lane_shift(d, layout.hops)
    if off is None:
        return nb
    xd, xh = layout.xdepth, layout.xh
    norm = halo.cgn[:, :, rows] if halo.field.norm is not None else None
    cg = halo.field.precision.decode_reals(halo.cg[:, :, rows], norm, 1)            # [2, xd, n, k]
    # the row extended by its column ghosts: lanes -xd .. Xh + xd - 1
    ext = np.concatenate([np.moveaxis(cg[1, ::-1], 0, 2), nb, np.moveaxis(cg[0], 0, 2)], axis=2)
    shift = layout.row_parity[parity][rows] + off                                   # lanes: xh + shift
    lanes = xd + np.arange(xh)[None, :] + shift[:, None]
    return np.take_along_axis(ext, lanes[:, None, :], axis=2)


def _link(links, p, rows, d):
    """The decoded links of direction d seen from ``rows`` of parity p, phases applied: ``[n, Xh, 3, 3]``."""
    params = links.precision.decode_params(np.swapaxes(links.params[p][rows, d], 1, 2)) * links.norm[d]
    U = unpack(params, links.reconstruct)
    return U if links.phase is None else U * links.phase[p][rows, d][..., None, None]


def _complex_sites(reals, ctype, site_shape):
    """Reals ``[n, k, Xh]`` as complex sites ``[n, Xh, *site_shape]``."""
    n, _, xh = reals.shape
    return np.ascontiguousarray(np.swapaxes(reals, 1, 2)).view(ctype).reshape((n, xh) + site_shape)


def _store_sites(out, rows, acc):
    """Store complex sites ``acc[n, Xh, ...]`` into ``out``'s ``rows``."""
    n, xh = acc.shape[:2]
    reals = np.ascontiguousarray(acc).reshape(n, xh, int(np.prod(acc.shape[2:]))).view(acc.real.dtype)
    encode_rows(out, rows, np.swapaxes(reals, 1, 2))


def _sign(d):
    """s of direction d's projector 1 + s g_mu: -1 forward, +1 backward."""
    return -1 if d % 2 == 0 else 1


def projector_block(d):
    """S = s B_mu of direction d (s: :func:`_sign`), the 2x2 block of 1 + s g_mu that projects."""
    return _sign(d) * B_MATRIX[d // 2]


def project(spinor, mu, s):
    """The half spinor h = psi_up + s B_mu psi_down of ``spinor[..., 4, 3]`` (the upper spins of
    (1 + s g_mu) psi = [h; s B^dag h]): ``[..., 2, 3]``, one addition per component."""
    S = (s * B_MATRIX[mu]).astype(spinor.dtype)
    return spinor[..., :2, :] + np.einsum("st,...tc->...sc", S, spinor[..., 2:, :])


def expand(h, mu, s):
    """[h; s B_mu^dag h]: (1 + s g_mu) psi from its half spinor h ``[..., 2, 3]``, exactly."""
    T = (s * B_MATRIX[mu].conj().T).astype(h.dtype)
    return np.concatenate([h, np.einsum("st,...tc->...sc", T, h)], axis=-2)


def wilson_hop(out, psi, links, halo, rows):
    """out = D_w psi on the sites of ``rows`` (module doc of :mod:`hpcmix.backends.kernels.wilson`): per
    direction the half spinor h, then U h (or U^dag h), then the lower spins rebuilt, as the generated
    kernels do."""
    lay, p = out.layout, out.parity
    ctype = np.result_type(psi.precision.real_dtype, np.complex64)
    acc = np.zeros((rows.size, lay.xh, 4, 3), ctype)
    for d in range(8):
        mu, s = d // 2, _sign(d)
        h = project(_complex_sites(neighbour_rows(psi, halo, lay, p, d, rows), ctype, (4, 3)), mu, s)
        U = _link(links, p, rows, d)
        w = np.einsum("nxab,nxsb->nxsa", U, h) if s < 0 else np.einsum("nxba,nxsb->nxsa", U.conj(), h)
        acc += expand(w, mu, s)
    _store_sites(out, rows, acc)


def wilson_face_pack(field, rows, d):
    """The half spinors h (:func:`project` for direction d) of ``field``'s ``rows``, stored in its precision:
    (data ``[n, 12, Xh]``, norm ``[n, Xh]`` or None), what a neighbouring rank needs for its ghost rows of
    direction d."""
    ctype = np.result_type(field.precision.real_dtype, np.complex64)
    h = project(_complex_sites(decode_rows(field, rows), ctype, (4, 3)), d // 2, _sign(d))
    n, xh = h.shape[:2]
    reals = np.ascontiguousarray(h).reshape(n, xh, 6).view(h.real.dtype)
    data, norm = field.precision.encode_reals(reals.astype(np.float64), 2)
    return np.ascontiguousarray(np.swapaxes(data, 1, 2)), norm


def wilson_face_unpack(field, where, data, norm, d):
    """Write the half spinors h of :func:`wilson_face_pack` into ``field``'s rows ``where`` as the spinors
    [h / 2; s B^dag h / 2], whose direction-d projection is h exactly (halving and B's entries 0, +-1, +-i
    are exact; fixed point keeps the integers of h and halves the norm)."""
    mu, s = d // 2, _sign(d)
    if norm is not None:                                  # integers of h, norm / 2
        q = np.ascontiguousarray(np.swapaxes(data, 1, 2), dtype=np.float64).view(np.complex128)
        q = q.reshape(data.shape[0], -1, 2, 3)
        full = expand(q, mu, s).reshape(q.shape[0], q.shape[1], 12).view(np.float64)
        field.data[where] = np.swapaxes(full, 1, 2).astype(field.data.dtype)
        field.norm[where] = norm / np.float32(2)
        return
    ctype = np.result_type(field.precision.real_dtype, np.complex64)
    h = _complex_sites(field.precision.decode_reals(data, None, 2), ctype, (2, 3))
    full = expand(h / 2, mu, s)
    reals = np.ascontiguousarray(full).reshape(full.shape[0], full.shape[1], 12).view(full.real.dtype)
    field.data[where] = np.swapaxes(field.precision.encode_reals(reals, 2)[0], 1, 2)


def staggered_hop(out, psi, links, halo, rows):
    """out = D psi on the sites of ``rows``, over the directions of ``links`` (8: naive, 16: asqtad;
    module doc of :mod:`hpcmix.backends.kernels.staggered`)."""
    lay, p = out.layout, out.parity
    ctype = np.result_type(psi.precision.real_dtype, np.complex64)
    acc = np.zeros((rows.size, lay.xh, 3), ctype)
    for d in range(links.params[p].shape[1]):
        v = _complex_sites(neighbour_rows(psi, halo, lay, p, d, rows), ctype, (3,))
        U = _link(links, p, rows, d)
        if d % 2 == 0:
            acc += np.einsum("nxab,nxb->nxa", U, v)
        else:
            acc -= np.einsum("nxba,nxb->nxa", U.conj(), v)
    _store_sites(out, rows, acc)


# ---- BLAS-1 on fields: float64 arithmetic, the result stored in the output field's precision --------------
def _decode64(field):
    """The local rows of ``field`` decoded (in its compute dtype) and widened to float64 ``[n, k, Xh]``."""
    return decode_rows(field, slice(0, field.layout.nrows)).astype(np.float64)


def _times(c, values):
    """c * v for a complex scalar c and reals ``values[n, k, Xh]`` holding (re, im) pairs along k."""
    c = complex(c)
    re, im = values[:, 0::2], values[:, 1::2]
    out = np.empty_like(values)
    out[:, 0::2] = c.real * re - c.imag * im
    out[:, 1::2] = c.real * im + c.imag * re
    return out


def lincomb(out, coeffs, fields, accumulate=False, norm=False):
    """out = sum_i c_i f_i (+ out where ``accumulate``), complex scalars c_i, computed in float64 and
    stored in ``out``'s precision (``out`` may be one of the ``fields``). With ``norm``, returns the
    local |out|^2 (float64) of the stored result."""
    acc = _decode64(out) if accumulate else 0.0
    for c, f in zip(coeffs, fields):
        acc = acc + _times(c, _decode64(f))
    rows = slice(0, out.layout.nrows)
    encode_rows(out, rows, np.broadcast_to(acc, out.local.shape))
    if norm:
        return float(np.sum(_decode64(out) ** 2))
    return None


def inner(a, b):
    """Local sum_x conj(a) b (complex, accumulated in float64)."""
    u, v = _decode64(a), _decode64(b)
    re = np.sum(u[:, 0::2] * v[:, 0::2] + u[:, 1::2] * v[:, 1::2])
    im = np.sum(u[:, 0::2] * v[:, 1::2] - u[:, 1::2] * v[:, 0::2])
    return complex(re, im)


def norm2(a):
    """Local |a|^2 (float64)."""
    return float(np.sum(_decode64(a) ** 2))


def block_inner(block, x):
    """Local <v_i, x> for every field v_i of ``block`` (:class:`~hpcmix.fields.block.FieldBlock`):
    complex128[n], each as :func:`inner`."""
    return np.array([inner(block[i], x) for i in range(len(block))])


def block_lincomb(out, coeffs, block, accumulate=False):
    """out = sum_i c_i v_i (+ out) over the fields v_i of ``block``, as :func:`lincomb`."""
    return lincomb(out, coeffs, [block[i] for i in range(len(block))], accumulate)


def gamma5(out, x):
    """out = gamma5 x = diag(1, 1, -1, -1) in spin (DeGrand-Rossi): components 12.. negated (exact in every
    storage, the norms unchanged)."""
    n = x.layout.nrows
    out.data[:n, :12] = x.data[:n, :12]
    out.data[:n, 12:] = -x.data[:n, 12:]
    if x.norm is not None:
        out.norm[:n] = x.norm[:n]


def site_blocks(out, x, blocks):
    """out = A x per site with A block diagonal in chirality: ``blocks[row, 144, Xh]`` holds the two 6x6
    complex blocks, real component ((b 6 + i) 6 + j) 2 + re/im for block b (spins 2b, 2b + 1), acting on
    spinor entries 6 b + j (index 3 spin + colour); computed in the blocks' real dtype."""
    n = x.layout.nrows
    cdt = blocks.dtype
    v = decode_rows(x, slice(0, n)).astype(cdt)
    vc = v[:, 0::2] + 1j * v[:, 1::2]                                    # [n, 12, Xh]
    m = (blocks[:n, 0::2] + 1j * blocks[:n, 1::2]).reshape(n, 2, 6, 6, -1)
    res = np.einsum("nbijx,nbjx->nbix", m, vc.reshape(n, 2, 6, -1)).reshape(n, 12, -1)
    reals = np.empty(v.shape, cdt)
    reals[:, 0::2], reals[:, 1::2] = res.real, res.imag
    encode_rows(out, slice(0, n), reals)


def coarse_stencil(out, m, mn, v):
    """out(s) = sum_d A_d(s) v_d(s), the multigrid coarse stencil in its kernel layout
    (:mod:`hpcmix.backends.kernels.coarse`: ``m[S, 9, N, 2, N]`` transposed matrices, ``mn[S, 9, N]`` row norms
    or None, planar ``v[9, S, 2, N]`` and ``out[S, 2, N]``), in v's dtype: per matrix d, the rows
    v_d^T A_d^T as batched real products, scaled by the row norms."""
    out[...] = 0
    for d in range(m.shape[1]):
        ar, ai = (np.asarray(m[:, d, :, k], dtype=v.dtype) for k in range(2))          # [S, j, i]
        vr, vi = v[d, :, None, 0], v[d, :, None, 1]                                    # [S, 1, j]
        re, im = (vr @ ar - vi @ ai)[:, 0], (vi @ ar + vr @ ai)[:, 0]
        if mn is not None:
            re, im = re * mn[:, d], im * mn[:, d]
        out[:, 0] += re
        out[:, 1] += im


# ---- multigrid transfers: aggregates of sites, each cut into two chiralities ---------------------------------
def aggregate_index(groups, rpar, lane_xc, xh, xc):
    """The local coarse site ``g * xc + lane_xc[rpar[row], l]`` of every site (row, l) of a parity's rows, from
    the aggregate tables of :mod:`hpcmix.backends.kernels.aggregate` (``xc`` coarse sites per coarse row)."""
    index = np.empty((rpar.size, xh), np.int64)
    rows = groups.ravel()
    index[rows] = np.repeat(np.arange(groups.shape[0]), groups.shape[1])[:, None] * xc + lane_xc[rpar[rows]]
    return index


def _chiral(reals):
    """Reals ``[..., nc, Xh]`` holding (re, im) pairs along nc as complex ``[..., 2, nc / 4, Xh]`` (chirality, its
    complex components)."""
    c = reals[..., 0::2, :] + 1j * reals[..., 1::2, :]
    return c.reshape(c.shape[:-2] + (2, -1, c.shape[-1]))


def _basis_sites(a, groups, field):
    """The aggregate-ordered basis ``a[G, R, n, nc, Xh]`` (on ``field``'s backend) as complex ``[n, nrows, 2,
    nc / 4, Xh]`` in row order, on the host."""
    a = field.backend.to_host(a)
    rows = np.empty((field.layout.nrows,) + a.shape[2:], a.dtype)
    rows[groups.ravel()] = a.reshape((-1,) + a.shape[2:])
    return np.swapaxes(_chiral(rows), 0, 1)


def aggregate_inner(out, a, x, groups, rpar, lane_xc):
    """out[g, xc, s, i] += sum over the sites of aggregate (g, xc) and the components of chirality s of
    conj(a_i) x for the basis ``a[G, R, n, nc, Xh]`` (the restriction of :mod:`hpcmix.backends.kernels.aggregate`;
    ``out`` complex128 ``[G, Xc, 2, n]``); the per-site products in a's dtype, their sums in float64."""
    n = a.shape[2]
    u = _basis_sites(a, groups, x)                                                    # [n, nrows, 2, nc/4, Xh]
    v = _chiral(decode_rows(x, slice(0, x.layout.nrows))).astype(u.dtype)            # [nrows, 2, nc/4, Xh]
    prod = np.sum(u.conj() * v, axis=3)                                               # [n, nrows, 2, Xh]
    index = aggregate_index(groups, rpar, lane_xc, x.layout.xh, out.shape[1]).ravel()
    flat = out.reshape(-1, 2, n)
    for s in range(2):
        np.add.at(flat[:, s], index, prod[:, :, s].reshape(n, -1).T.astype(np.complex128))


def aggregate_lincomb(out, coeffs, a, groups, rpar, lane_xc):
    """out(site) = sum_i a_i(site) coeffs[g, xc, s, i] on the components of each chirality s of the site's
    aggregate (g, xc) (the prolongation of :mod:`hpcmix.backends.kernels.aggregate`), computed in a's dtype and
    stored in ``out``'s precision."""
    nrows, xh, n = out.layout.nrows, out.layout.xh, a.shape[2]
    u = _basis_sites(a, groups, out)                                                  # [n, nrows, 2, nc/4, Xh]
    index = aggregate_index(groups, rpar, lane_xc, xh, coeffs.shape[1])
    c = coeffs.reshape(-1, 2, n).astype(u.dtype)[index]                               # [nrows, Xh, 2, n]
    v = np.einsum("irsjl,rlsi->rsjl", u, c).reshape(nrows, -1, xh)                    # [nrows, nc/2, Xh]
    reals = np.empty((nrows, 2 * v.shape[1], xh), v.real.dtype)
    reals[:, 0::2], reals[:, 1::2] = v.real, v.imag
    encode_rows(out, slice(0, nrows), reals)

KERNELS = {"wilson_hop": wilson_hop, "wilson_face_pack": wilson_face_pack, "wilson_face_unpack": wilson_face_unpack,
           "staggered_hop": staggered_hop, "lincomb": lincomb, "inner": inner, "norm2": norm2, "gamma5": gamma5,
           "site_blocks": site_blocks, "block_inner": block_inner, "block_lincomb": block_lincomb,
           "coarse_stencil": coarse_stencil, "aggregate_inner": aggregate_inner,
           "aggregate_lincomb": aggregate_lincomb}
