"""Numba sources of the fused BLAS-1 and site kernels on half-lattice fields (rows shared out in blocks).

Each generator returns the source of a ``kernel`` for one combination of storage kinds (fixed point
with a norm per site, or IEEE); numba specializes it further on the array dtypes. Arithmetic is
float64 as in the numpy reference (:mod:`hpcmix.backends.reference`), operation for operation, so the
stored results agree bitwise; reductions are float64 partial sums per row (``partial``), added up by
the caller. A fixed-point value decodes as fl32(q * norm), an output encodes as the reference's
``encode_reals`` does (norm = fl32(s / M), q = rint(v M / s), s the largest |component| of the site).
The generators write one row's work as the body of ``for row in prange(nrows)``; :func:`blocked` turns
that into blocks of rows whose work arrays are allocated once per block. The per-site statements
(:func:`load`, :func:`combination_start`, :func:`combination_term`, :func:`product_term` and its parts,
:func:`site_block_terms`) are shared with the CUDA kernels (:mod:`hpcmix.backends.cuda`).
"""

import re

from . import site

#: blocks of rows the threads share out
BLOCKS = 64
_ALLOC = re.compile(r"^(\s+)(\w+) = np\.(zeros|empty)\((.*)\)$")

HEADER = ["import numpy as np", "from numba import njit, prange", "", "",
          "@njit(parallel=True, boundscheck=False, cache=True, nogil=True)"]


def load(name, fixed, k="k", at="row"):
    """A float64 expression of component ``k`` of field ``name`` (norms ``{name}n``) at (``at``, l): ``at`` is
    "row", or "iv, row" for field iv of a block."""
    if fixed:
        return f"np.float64(np.float32({name}[{at}, {k}, l]) * {name}n[{at}, l])"
    return f"np.float64({name}[{at}, {k}, l])"


def _store(fixed, norm):
    """Statements storing the float64 work array ``wk[nc, xh]`` into ``out`` (and ``outn``) and, with
    ``norm``, adding |stored|^2 to ``acc``."""
    if fixed:
        lines = ["        s = np.zeros(xh)",
                 "        for k in range(nc):",
                 "            for l in range(xh):",
                 "                s[l] = max(s[l], abs(wk[k, l]))",
                 "        f = np.zeros(xh)",
                 "        for l in range(xh):",
                 "            outn[row, l] = np.float32(s[l] / scale)",
                 "            if s[l] > 0:",
                 "                f[l] = scale / s[l]",
                 "        for k in range(nc):",
                 "            for l in range(xh):",
                 "                out[row, k, l] = np.rint(wk[k, l] * f[l])"]
        if norm:
            lines += ["                d = np.float64(np.float32(out[row, k, l]) * outn[row, l])",
                      "                acc += d * d"]
        return lines
    lines = ["        for k in range(nc):",
             "            for l in range(xh):",
             "                out[row, k, l] = wk[k, l]"]
    if norm:
        lines += ["                d = np.float64(out[row, k, l])",
                  "                acc += d * d"]
    return lines


def blocked(lines):
    """``lines`` with their ``for row in prange(nrows):`` loop split into blocks of rows: each array the row
    body allocates is allocated once per block (an np.zeros is refilled with zeros where it was made)."""
    head = lines.index("    for row in prange(nrows):")
    allocs, body = [], []
    for line in lines[head + 1:]:
        m = _ALLOC.match(line)
        if m:
            indent, name, kind, args = m.groups()
            allocs.append(f"        {name} = np.empty({args})")
            if kind == "zeros":
                body.append(f"    {indent}{name}[...] = 0")
        else:
            body.append("    " + line)
    return lines[:head] + [f"    nblk = min(nrows, {BLOCKS})",
                           "    for blk in prange(nblk):"] + allocs + [
        "        for row in range(blk * nrows // nblk, (blk + 1) * nrows // nblk):"] + body


def _combination_loop(out_fixed, accumulate):
    """The row loop of a linear combination up to its per-component sums ``vr``, ``vi`` (out's value where
    ``accumulate``, else 0)."""
    L = ["    for row in prange(nrows):",
         "        acc = 0.0",
         "        wk = np.empty((nc, xh))",
         "        for j in range(nc // 2):",
         "            for l in range(xh):"]
    return L + ["                " + s for s in combination_start(out_fixed, accumulate)]


def combination_start(out_fixed, accumulate):
    """Statements starting complex component j of a site's combination: (vr, vi) = out's value or 0."""
    if accumulate:
        return [f"vr = {load('out', out_fixed, '2 * j')}", f"vi = {load('out', out_fixed, '2 * j + 1')}"]
    return ["vr = 0.0", "vi = 0.0"]


def combination_term(name, fixed, cr, ci, at="row"):
    """Statements adding (cr + i ci) times complex component j of field ``name`` at (``at``, l) to (vr, vi),
    float64."""
    return [f"ar = {load(name, fixed, '2 * j', at)}", f"ai = {load(name, fixed, '2 * j + 1', at)}",
            f"vr = vr + ({cr} * ar - {ci} * ai)", f"vi = vi + ({cr} * ai + {ci} * ar)"]


def product_load(b_fixed):
    """Statements loading complex component j of b at (row, l) into (vr, vi), float64."""
    return [f"vr = {load('b', b_fixed, '2 * j')}", f"vi = {load('b', b_fixed, '2 * j + 1')}"]


def product_add(a_fixed, at="row"):
    """Statements adding conj(a) (vr + i vi) of complex component j, a at (``at``, l), to (sr, si), float64."""
    return [f"ur = {load('a', a_fixed, '2 * j', at)}", f"ui = {load('a', a_fixed, '2 * j + 1', at)}",
            "sr += ur * vr + ui * vi", "si += ur * vi - ui * vr"]


def product_term(a_fixed, b_fixed, at="row"):
    """Statements adding conj(a) b of complex component j, a at (``at``, l), to (sr, si), float64."""
    return product_load(b_fixed) + product_add(a_fixed, at)


def site_block_terms(fixed):
    """Statements of one site (the CUDA kernel's): o = A x for the two 6x6 complex blocks of A in ``m[row, 144,
    l]`` (reference ``site_blocks``): o_{6b+i} = sum_j M^b_ij x_{6b+j} (complex entries, reals 2k, 2k + 1),
    x = ``psi`` decoded, all in the compute type ``CDT`` from ``zero``, summed in the order j = 0 .. 5, as
    :func:`site_blocks_source` sums them per lane."""
    L = [f"x{k} = {site.spinor(fixed, 'row', k, 'l')}" for k in range(24)]
    for b in range(2):
        for i in range(6):
            r = 2 * (6 * b + i)
            L += [f"o{r} = zero", f"o{r + 1} = zero"]
            for j in range(6):
                c, k = ((b * 6 + i) * 6 + j) * 2, 2 * (6 * b + j)
                L += [f"o{r} += m[row, {c}, l] * x{k} - m[row, {c + 1}, l] * x{k + 1}",
                      f"o{r + 1} += m[row, {c}, l] * x{k + 1} + m[row, {c + 1}, l] * x{k}"]
    return L


def lincomb_source(in_fixed, out_fixed, accumulate, norm):
    """``kernel(out, outn, f0, f0n, .., cr, ci, scale, partial)``: out = sum_i (cr_i + i ci_i) f_i (+ out),
    for ``len(in_fixed)`` inputs; ``partial[row]`` = |out row|^2 where ``norm``."""
    n = len(in_fixed)
    args = ", ".join(f"f{i}, f{i}n" for i in range(n))
    L = HEADER + [f"def kernel(out, outn, {args}, cr, ci, scale, partial):",
                  "    nrows, nc, xh = partial.shape[0], out.shape[1], out.shape[2]"]
    L += [f"    c{i}r, c{i}i = cr[{i}], ci[{i}]" for i in range(n)]
    L += _combination_loop(out_fixed, accumulate)
    for i, fx in enumerate(in_fixed):
        L += ["                " + s for s in combination_term(f"f{i}", fx, f"c{i}r", f"c{i}i")]
    L += ["                wk[2 * j, l] = vr", "                wk[2 * j + 1, l] = vi"]
    L += _store(out_fixed, norm)
    L += ["        partial[row] = acc"]
    return "\n".join(blocked(L)) + "\n"


def reduce_source(a_fixed, b_fixed):
    """``kernel(a, an, b, bn, pre, pim)``: per row, sum conj(a) b (``b`` None-free: a norm uses b = a)."""
    L = HEADER + ["def kernel(a, an, b, bn, pre, pim):",
                  "    nrows, nc, xh = pre.shape[0], a.shape[1], a.shape[2]",
                  "    for row in prange(nrows):",
                  "        sr = 0.0",
                  "        si = 0.0",
                  "        for j in range(nc // 2):",
                  "            for l in range(xh):"]
    L += ["                " + s for s in product_term(a_fixed, b_fixed)]
    L += ["        pre[row] = sr",
          "        pim[row] = si"]
    return "\n".join(blocked(L)) + "\n"


def block_lincomb_source(in_fixed, out_fixed, accumulate):
    """``kernel(out, outn, v, vn, cr, ci, scale, partial)``: out = sum_iv (cr_iv + i ci_iv) v[iv] (+ out) over
    the fields of a block ``v[n, row, k, xh]``, in :func:`lincomb_source`'s order of operations (each component
    starts from out or 0 and adds the terms iv = 0, 1, ..); field by field within a row, so that each field's
    row is read contiguously."""
    L = HEADER + ["def kernel(out, outn, v, vn, cr, ci, scale, partial):",
                  "    nrows, nc, xh = partial.shape[0], out.shape[1], out.shape[2]"]
    L += _combination_loop(out_fixed, accumulate)
    L += ["                wk[2 * j, l] = vr", "                wk[2 * j + 1, l] = vi",
          "        for iv in range(v.shape[0]):",
          "            for j in range(nc // 2):",
          "                for l in range(xh):",
          "                    vr = wk[2 * j, l]",
          "                    vi = wk[2 * j + 1, l]"]
    L += ["                    " + s for s in combination_term("v", in_fixed, "cr[iv]", "ci[iv]", "iv, row")]
    L += ["                    wk[2 * j, l] = vr", "                    wk[2 * j + 1, l] = vi"]
    L += _store(out_fixed, False)
    L += ["        partial[row] = acc"]
    return "\n".join(blocked(L)) + "\n"


def block_reduce_source(a_fixed, b_fixed):
    """``kernel(a, an, b, bn, pre, pim)``: per field iv of the block ``a[n, row, k, xh]`` and row, sum
    conj(a[iv]) b into ``pre[iv, row]``, ``pim[iv, row]``, field by field within a row (b's row, read once from
    memory, is reused from cache; each field's row is read contiguously)."""
    L = HEADER + ["def kernel(a, an, b, bn, pre, pim):",
                  "    n, nrows, nc, xh = a.shape[0], pre.shape[1], a.shape[2], a.shape[3]",
                  "    for row in prange(nrows):",
                  "        for iv in range(n):",
                  "            sr = 0.0",
                  "            si = 0.0",
                  "            for j in range(nc // 2):",
                  "                for l in range(xh):"]
    L += ["                    " + s for s in product_load(b_fixed)]
    L += ["                    " + s for s in product_add(a_fixed, "iv, row")]
    L += ["            pre[iv, row] = sr",
          "            pim[iv, row] = si"]
    return "\n".join(L) + "\n"


def site_blocks_source(in_fixed, out_fixed):
    """``kernel(out, outn, x, xn, m, scale, partial)``: out = A x with A's two 6x6 chiral blocks
    ``m[row, 144, xh]`` (reference ``site_blocks``), computed in m's dtype: :func:`site_block_terms`'s sums in
    the same order, written as loops over the lanes with accumulator rows (numba vectorizes these; the
    unrolled per-site statements ran 1.3-1.8x slower on the CPU); both are held to the reference bitwise."""
    L = HEADER + ["def kernel(out, outn, x, xn, m, scale, partial):",
                  "    nrows, nc, xh = partial.shape[0], out.shape[1], out.shape[2]",
                  "    CDT = m.dtype.type",
                  "    for row in prange(nrows):",
                  "        v = np.empty((24, xh), m.dtype)",
                  "        for k in range(24):",
                  "            for l in range(xh):",
                  ("                v[k, l] = CDT(x[row, k, l]) * xn[row, l]" if in_fixed else
                   "                v[k, l] = x[row, k, l]"),
                  "        wk = np.zeros((24, xh))",
                  "        for b in range(2):",
                  "            for i in range(6):",
                  "                accr = np.zeros(xh, m.dtype)",
                  "                acci = np.zeros(xh, m.dtype)",
                  "                for j in range(6):",
                  "                    c = ((b * 6 + i) * 6 + j) * 2",
                  "                    k = 2 * (6 * b + j)",
                  "                    for l in range(xh):",
                  "                        accr[l] += m[row, c, l] * v[k, l] - m[row, c + 1, l] * v[k + 1, l]",
                  "                        acci[l] += m[row, c, l] * v[k + 1, l] + m[row, c + 1, l] * v[k, l]",
                  "                for l in range(xh):",
                  "                    wk[2 * (6 * b + i), l] = accr[l]",
                  "                    wk[2 * (6 * b + i) + 1, l] = acci[l]"]
    L += _store(out_fixed, False)
    return "\n".join(blocked(L)) + "\n"
