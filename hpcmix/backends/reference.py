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
P_MINUS = np.eye(4) - GAMMA
P_PLUS = np.eye(4) + GAMMA


def decode_rows(field, rows=slice(None)):
    """The field's rows (ghosts included) decoded to real compute values ``[n, k, Xh]``."""
    cdt = field.precision.real_dtype
    values = field.data[rows].astype(cdt)
    if field.norm is not None:
        values *= field.norm[rows][:, None, :]
    return values


def encode_rows(out, rows, values):
    """Store real values ``[n, k, Xh]`` into ``out``'s ``rows`` in its precision."""
    data, norm = out.precision.encode_reals(np.swapaxes(values, 1, 2).astype(np.float64), 2)
    out.data[rows] = np.swapaxes(data, 1, 2)
    if norm is not None:
        out.norm[rows] = norm


def neighbour_rows(values, halo, layout, parity, d, rows):
    """The direction-d neighbours (parity 1 - ``parity``) of the sites of ``rows``: ``[n, k, Xh]``."""
    nb = values[layout.row_neighbour[d, rows]]
    if d > 1:
        return nb
    cg = halo.cg[0 if d == 0 else 1, rows].astype(values.dtype)
    if halo.field.norm is not None:
        cg = cg * halo.cgn[0 if d == 0 else 1, rows][:, None]
    shift = layout.row_parity[parity][rows] - (0 if d == 0 else 1)     # lanes: xh + shift
    out = nb.copy()
    up, down = shift == 1, shift == -1
    out[up, :, :-1], out[up, :, -1] = nb[up, :, 1:], cg[up]
    out[down, :, 1:], out[down, :, 0] = nb[down, :, :-1], cg[down]
    return out


def wilson_hop(out, psi, links, halo, rows):
    """out = D_w psi on the sites of ``rows`` (module doc of :mod:`hpcmix.backends.kernels.wilson`)."""
    lay, p = out.layout, out.parity
    cdt = psi.precision.real_dtype
    ctype = np.result_type(cdt, np.complex64)
    values = decode_rows(psi)
    acc = np.zeros((rows.size, lay.xh, 4, 3), ctype)
    for d in range(8):
        mu, forward = d // 2, d % 2 == 0
        nb = neighbour_rows(values, halo, lay, p, d, rows)                         # [n, 24, Xh]
        spinor = np.ascontiguousarray(np.swapaxes(nb, 1, 2)).view(ctype).reshape(rows.size, lay.xh, 4, 3)
        params = np.swapaxes(links.params[p][rows, d], 1, 2).astype(cdt) * links.scale   # [n, Xh, R]
        U = unpack(params, links.reconstruct) * links.phase[p][rows, d][..., None, None]
        if forward:
            acc += np.einsum("st,nxta,nxba->nxsb", P_MINUS[mu].astype(ctype), spinor, U, optimize=True)
        else:
            acc += np.einsum("st,nxta,nxab->nxsb", P_PLUS[mu].astype(ctype), spinor, U.conj(), optimize=True)
    reals = acc.reshape(rows.size, lay.xh, 12).view(cdt)                         # [n, Xh, 24]
    encode_rows(out, rows, np.swapaxes(reals, 1, 2))


KERNELS = {"wilson_hop": wilson_hop}
