"""numba-cuda kernel sources over the even-odd row layout (:mod:`hpcmix.fields.layout`), generated from the
per-site statements the numba CPU backend compiles (:mod:`hpcmix.backends.kernels`: the stencil bodies of
``wilson``/``staggered``/``links``, the reads and fixed-point encode of ``site``, the BLAS-1 terms (of
fields and of blocks) and the clover site term of ``blas``, the spin-projected halo faces of ``faces``),
so the physics exists once.

Site g = i Xh + l is lane l of row ``rows[i]`` (of local row i for BLAS-1), so consecutive threads read
consecutive lanes of a row's components (coalesced); each thread takes the sites g, g + G, .. (G the
threads launched: one site each where the launch covers them all, :func:`.device.shape`). Everything a
site reads is decoded in registers (fixed-point spinors times their norm, link parameters times their
direction's scale); a stencil site loads each direction's neighbour, link and phase just before that
direction's statements. BLAS-1 arithmetic is float64, statement for statement the CPU kernels' and the
reference's; reductions leave one float64 partial sum per block (a tree in shared memory over its threads,
at most :data:`BLOCK`, a power of two: a fixed order, deterministic), added up by the caller.
"""

import re

from ..kernels import blas, faces, site
from .tune import CANDIDATES

#: the most threads per block a launch may have (the size of the reductions' shared memory)
BLOCK = max(CANDIDATES)
HEADER = ["import math", "import numpy as np", "from numba import cuda", "", f"BLOCK = {BLOCK}"]
_SITES = ["    for g in range(cuda.grid(1), n, cuda.gridsize(1)):", "        i = g // xh", "        l = g - i * xh"]


def _indent(lines, n):
    return [" " * n + s for s in lines]


def _direction(d, ncomp, nlink, in_fixed, xoff, phased):
    """Statements loading direction d's neighbour ``p{d}_{k}``, link ``L{d}_{k}`` and phase ``ph{d}``: y, z,
    t neighbours the same lane of row ``nbrow[d, row]``, x neighbours lane l + r + xoff[d] of the same row,
    from the column ghosts where that leaves the row."""
    if xoff[d] is None:
        L = [f"nr = nbrow[{d}, row]"] + [f"p{d}_{k} = {site.spinor(in_fixed, 'nr', k, 'l')}" for k in range(ncomp)]
    else:
        L = [f"m = l + r + {xoff[d]}", "if m >= 0 and m < xh:"]
        L += [f"    p{d}_{k} = {site.spinor(in_fixed, 'row', k, 'm')}" for k in range(ncomp)]
        L += ["elif m >= xh:"] + [f"    p{d}_{k} = {site.column_ghost(in_fixed, 0, 'm - xh', k)}" for k in range(ncomp)]
        L += ["else:"] + [f"    p{d}_{k} = {site.column_ghost(in_fixed, 1, '-m - 1', k)}" for k in range(ncomp)]
    L += [f"L{d}_{k} = CDT(lk[row, {d}, {k}, l]) * lscale[{d}]" for k in range(nlink)]
    return L + ([f"ph{d} = ph[row, {d}, l]"] if phased else [])


def hop_source(body, ncomp, nlink, in_fixed, out_fixed, compute, xoff, phased=True):
    """Source of ``kernel(out, outn, psi, psin, cg, cgn, lk, lscale, ph, rpar, nbrow, rows, out_scale)``, the
    arguments of :func:`hpcmix.backends.kernels.rowloop.hop_kernel_source` (``body``, ``xoff``: the same),
    on the len(rows) Xh sites of ``rows``."""
    L = HEADER + [f"CDT = np.{compute}", "", "", "@cuda.jit",
                  "def kernel(out, outn, psi, psin, cg, cgn, lk, lscale, ph, rpar, nbrow, rows, out_scale):",
                  "    xh = psi.shape[2]", "    n = rows.shape[0] * xh", "    zero = CDT(0.0)"] + _SITES + [
                  "        row = rows[i]", "        r = rpar[row]"]
    lane, loaded = [], set()
    for s in body:
        for d in sorted({int(m) for m in re.findall(r"\b[pL](\d+)_", s)} - loaded):
            loaded.add(d)
            lane += _direction(d, ncomp, nlink, in_fixed, xoff, phased)
        lane.append(site.typed(s))
    if out_fixed:
        lane += site.encode(ncomp, lambda k, q: f"out[row, {k}, l] = {q}",
                            lambda n: f"outn[row, l] = np.float32({n})", rint="round")
    else:
        lane += [f"out[row, {k}, l] = o{k}" for k in range(ncomp)]
    return "\n".join(L + _indent(lane, 8)) + "\n"


def _block_sums(pairs, at=""):
    """Statements adding each thread's float64 ``value`` over its block into ``partial[{at}block]``, for each
    (value, partial) of ``pairs`` (every thread of the block takes part)."""
    L = ["t = cuda.threadIdx.x"]
    for v, _ in pairs:
        L += [f"sh_{v} = cuda.shared.array(BLOCK, np.float64)", f"sh_{v}[t] = {v}"]
    L += ["cuda.syncthreads()", "h = cuda.blockDim.x // 2", "while h > 0:", "    if t < h:"]
    L += [f"        sh_{v}[t] += sh_{v}[t + h]" for v, _ in pairs]
    L += ["    cuda.syncthreads()", "    h //= 2", "if t == 0:"]
    return L + [f"    {p}[{at}cuda.blockIdx.x] = sh_{v}[0]" for v, p in pairs]


def _combination_source(params, setup, terms, out_fixed, accumulate, norm, ncomp):
    """``kernel(out, outn, {params}, out_scale, nrows, partial)``: per site of the ``nrows`` local rows and
    complex component j, (vr, vi) = out (``accumulate``) or 0 plus the ``terms`` (after the kernel's
    ``setup``), stored in out; with ``norm``, ``partial[block]`` = the block's |stored out|^2."""
    L = HEADER + [f"NC = {ncomp}", "", "", "@cuda.jit",
                  f"def kernel(out, outn, {params}, out_scale, nrows, partial):",
                  "    xh = out.shape[2]", "    zero = 0.0", "    acc = 0.0",
                  "    wk = cuda.local.array(NC, np.float64)"] + _indent(setup, 4)
    L += ["    n = nrows * xh"] + _SITES + ["        row = i"]
    body = ["for j in range(NC // 2):"]
    body += _indent(blas.combination_start(out_fixed, accumulate) + terms, 4)
    body += ["    wk[2 * j] = vr", "    wk[2 * j + 1] = vi"]
    if out_fixed:
        body += site.encode(ncomp, lambda k, q: f"out[row, {k}, l] = {q}",
                            lambda v: f"outn[row, l] = np.float32({v})", rint="round", value="wk[{}]".format)
    else:
        body += ["for k in range(NC):", "    out[row, k, l] = wk[k]"]
    if norm:
        body += ["for k in range(NC):", f"    d = {blas.load('out', out_fixed)}", "    acc += d * d"]
    L += _indent(body, 8)
    if norm:
        L += _indent(_block_sums([("acc", "partial")]), 4)
    return "\n".join(L) + "\n"


def lincomb_source(in_fixed, out_fixed, accumulate, norm, ncomp):
    """``kernel(out, outn, f0, f0n, .., c0r, c0i, .., out_scale, nrows, partial)``: out = sum_i (c_ir + i c_ii)
    f_i (+ out) on the sites of the ``nrows`` local rows (``ncomp`` reals each), the coefficients float64
    scalar arguments (no array to copy to the device per call); with ``norm``, ``partial[block]`` = the
    block's |stored out|^2."""
    n = len(in_fixed)
    params = ", ".join([f"f{i}, f{i}n" for i in range(n)] + [f"c{i}r, c{i}i" for i in range(n)])
    terms = [s for i, fx in enumerate(in_fixed) for s in blas.combination_term(f"f{i}", fx, f"c{i}r", f"c{i}i")]
    return _combination_source(params, [], terms, out_fixed, accumulate, norm, ncomp)


def block_lincomb_source(in_fixed, out_fixed, accumulate, ncomp):
    """``kernel(out, outn, v, vn, cr, ci, out_scale, nrows, partial)``: out = sum_iv (cr_iv + i ci_iv) v[iv]
    (+ out) over the fields of a block ``v[n, row, k, xh]``, in :func:`lincomb_source`'s order of operations
    (``partial`` unused)."""
    terms = ["for iv in range(v.shape[0]):"] + _indent(blas.combination_term("v", in_fixed, "cr[iv]", "ci[iv]",
                                                                             "iv, row"), 4)
    return _combination_source("v, vn, cr, ci", [], terms, out_fixed, accumulate, False, ncomp)


def reduce_source(a_fixed, b_fixed):
    """``kernel(a, an, b, bn, nrows, pre, pim)``: per block, sum conj(a) b over its sites of the ``nrows``
    local rows into ``pre[block]``, ``pim[block]``."""
    L = HEADER + ["", "", "@cuda.jit", "def kernel(a, an, b, bn, nrows, pre, pim):",
                  "    xh = a.shape[2]", "    n = nrows * xh", "    sr = 0.0", "    si = 0.0"] + _SITES + [
                  "        row = i", "        for j in range(a.shape[1] // 2):"]
    L += _indent(blas.product_term(a_fixed, b_fixed), 12)
    return "\n".join(L + _indent(_block_sums([("sr", "pre"), ("si", "pim")]), 4)) + "\n"


def block_reduce_source(a_fixed, b_fixed):
    """``kernel(a, an, b, bn, nrows, pre, pim)``: per field iv of the block ``a[n, row, k, xh]`` and block of
    threads, sum conj(a[iv]) b over its sites of the ``nrows`` local rows into ``pre[iv, block]``,
    ``pim[iv, block]`` (one pass over b per field)."""
    L = HEADER + ["", "", "@cuda.jit", "def kernel(a, an, b, bn, nrows, pre, pim):",
                  "    xh = b.shape[2]", "    n = nrows * xh", "    for iv in range(a.shape[0]):",
                  "        sr = 0.0", "        si = 0.0"] + _indent(_SITES, 4) + [
                  "            row = i", "            for j in range(b.shape[1] // 2):"]
    L += _indent(blas.product_term(a_fixed, b_fixed, "iv, row"), 16)
    return "\n".join(L + _indent(_block_sums([("sr", "pre"), ("si", "pim")], "iv, "), 8)) + "\n"


def site_blocks_source(in_fixed, out_fixed, compute):
    """``kernel(out, outn, psi, psin, m, out_scale, nrows)``: out = A psi with A's two 6x6 chiral blocks
    ``m[row, 144, xh]`` (:func:`hpcmix.backends.kernels.blas.site_block_terms`, in ``compute``), the result
    stored as :func:`hpcmix.backends.kernels.blas.site_blocks_source` stores it (float64 encode)."""
    L = HEADER + [f"CDT = np.{compute}", "", "", "@cuda.jit", "def kernel(out, outn, psi, psin, m, out_scale, nrows):",
                  "    xh = out.shape[2]", "    n = nrows * xh", "    zero = CDT(0.0)"] + _SITES + ["        row = i"]
    body = blas.site_block_terms(in_fixed)
    if out_fixed:
        body += site.encode(24, lambda k, q: f"out[row, {k}, l] = {q}", lambda v: f"outn[row, l] = np.float32({v})",
                             rint="round", value=lambda k: f"np.float64(o{k})")
    else:
        body += [f"out[row, {k}, l] = o{k}" for k in range(24)]
    return "\n".join(L + _indent(body, 8)) + "\n"


def face_pack_source(fixed, compute):
    """``kernel(psi, psin, rows, out, outn, out_scale, sr, si)``: out[i] = the half spinor h = psi_up + S
    psi_down of psi's row rows[i] (:func:`hpcmix.backends.kernels.faces.pack`, in ``compute``)."""
    L = HEADER + [f"CDT = np.{compute}", "", "", "@cuda.jit",
                  "def kernel(psi, psin, rows, out, outn, out_scale, sr, si):",
                  "    xh = psi.shape[2]", "    n = rows.shape[0] * xh", "    zero = 0.0"] + _SITES + [
                  "        row = rows[i]"]
    return "\n".join(L + _indent(faces.pack(fixed, fixed, rint="round"), 8)) + "\n"


def face_unpack_source(fixed):
    """``kernel(data, datan, start, q, qn, tr, ti, half)``: ghost row start + i of the field (data, datan) =
    [h; T h] from h = q[i] (:func:`hpcmix.backends.kernels.faces.unpack`)."""
    L = HEADER + ["", "", "@cuda.jit", "def kernel(data, datan, start, q, qn, tr, ti, half):",
                  "    xh = q.shape[2]", "    n = q.shape[0] * xh"] + _SITES
    return "\n".join(L + _indent(faces.unpack(fixed), 8)) + "\n"
