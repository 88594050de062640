"""Numba sources of the multigrid transfer kernels on the even-odd row layout (reference: ``aggregate_inner`` and
``aggregate_lincomb`` in :mod:`hpcmix.backends.reference`).

Aggregates are blocks of sites, each cut into two chiralities: the first half of a site's real components (spins 0
and 1 of a Wilson spinor in the DeGrand-Rossi basis, gamma5 = +1) and the second. The blocks of a parity's rows
are given by ``groups[G, R]`` (the R rows of each of the G local coarse rows (tc, zc, yc), in any order) and
``lane_xc[r, l]`` (the coarse x of lane l in a row of row parity r: (2 l + r) // bx); ``rpar[row]`` is the row
parity. The basis ``a[g, rr, i, k, l]`` holds field i (float32 or float64) at row ``groups[g, rr]``, in the order
the kernels stream it. For a field ``x``:

    restrict:  out[g, xc, s, i] += sum over the sites of aggregate (g, xc) and the components k of chirality s
                                   of conj(a_i) x,
    prolong:   out(site) = sum_i a_i(site) c[g, xc, s(k), i] for each component k of the site's aggregate.

Arithmetic in a's dtype (float32 below double): the restriction's sum over a site's components of one chirality
in it, then per lane and aggregate in float64. Both are parallel over the coarse rows g (their rows are
disjoint). For fields of :data:`SPECIALIZE_SITES` sites or more, the vector count n, the components nc and the
lanes Xh are constants of the generated source: loops of known length are what LLVM vectorizes here (2x faster
than with run-time bounds, measured at 16^4); smaller fields (tests) share one kernel per storage kind.
"""

from .blas import HEADER

#: Fields of at least this many sites per parity get kernels with their sizes as constants (compiled per size);
#: smaller ones share one kernel that reads the sizes from the arrays.
SPECIALIZE_SITES = 4096


def specialized(a, layout):
    """The sizes (n, nc, xh) of the basis ``a[G, R, n, nc, Xh]`` to generate a kernel for, or None (the shared
    kernel) for fields of fewer than :data:`SPECIALIZE_SITES` sites per parity."""
    return tuple(a.shape[2:]) if layout.half_volume >= SPECIALIZE_SITES else None


def _sizes(shape):
    """The line that sets n, nc, xh and half: the constants ``shape`` = (n, nc, xh), or read from a's shape."""
    if shape is None:
        return "    n, nc, xh = a.shape[2], a.shape[3], a.shape[4]\n    half = nc // 2"
    n, nc, xh = shape
    return f"    n, nc, xh, half = {n}, {nc}, {xh}, {nc // 2}"


def aggregate_inner_source(x_fixed, shape=None):
    """``kernel(a, x, xn, groups, rpar, lane_xc, outr, outi)``: the restriction (module doc), accumulated into
    the float64 ``outr[G, Xc, 2, n]``, ``outi``; ``x_fixed``: x holds integers scaled by the site norms ``xn``."""
    load = "CT(x[row, k, l]) * CT(xn[row, l])" if x_fixed else "CT(x[row, k, l])"
    L = HEADER + [
        "def kernel(a, x, xn, groups, rpar, lane_xc, outr, outi):",
        _sizes(shape),
        "    CT = a.dtype.type",
        "    for g in prange(groups.shape[0]):",
        "        accr = np.zeros((2, 2, n, xh))",
        "        acci = np.zeros((2, 2, n, xh))",
        "        xv = np.empty((nc, xh), a.dtype)",
        "        for rr in range(groups.shape[1]):",
        "            row = groups[g, rr]",
        "            r = rpar[row]",
        "            for k in range(nc):",
        "                for l in range(xh):",
        f"                    xv[k, l] = {load}",
        "            for i in range(n):",
        "                ai = a[g, rr, i]",
        "                for l in range(xh):",
        "                    for s in range(2):",
        "                        pr = CT(0)",
        "                        pi = CT(0)",
        "                        for k in range(s * half, (s + 1) * half, 2):",
        "                            pr += ai[k, l] * xv[k, l] + ai[k + 1, l] * xv[k + 1, l]",
        "                            pi += ai[k, l] * xv[k + 1, l] - ai[k + 1, l] * xv[k, l]",
        "                        accr[r, s, i, l] += pr",
        "                        acci[r, s, i, l] += pi",
        "        for r in range(2):",
        "            for s in range(2):",
        "                for i in range(n):",
        "                    for l in range(xh):",
        "                        xc = lane_xc[r, l]",
        "                        outr[g, xc, s, i] += accr[r, s, i, l]",
        "                        outi[g, xc, s, i] += acci[r, s, i, l]",
    ]
    return "\n".join(L) + "\n"


def aggregate_lincomb_source(shape=None):
    """``kernel(out, a, cr, ci, groups, rpar, lane_xc)``: the prolongation (module doc) into the IEEE field rows
    ``out[row, k, l]``, from the coefficients (cr + i ci)``[G, Xc, 2, n]`` in a's dtype."""
    L = HEADER + [
        "def kernel(out, a, cr, ci, groups, rpar, lane_xc):",
        _sizes(shape),
        "    for g in prange(groups.shape[0]):",
        "        wk = np.empty((nc, xh), a.dtype)",
        "        vr = np.empty((2, xh), a.dtype)",
        "        vi = np.empty((2, xh), a.dtype)",
        "        for rr in range(groups.shape[1]):",
        "            row = groups[g, rr]",
        "            r = rpar[row]",
        "            for k in range(nc):",
        "                for l in range(xh):",
        "                    wk[k, l] = 0",
        "            for i in range(n):",
        "                for s in range(2):",
        "                    for l in range(xh):",
        "                        vr[s, l] = cr[g, lane_xc[r, l], s, i]",
        "                        vi[s, l] = ci[g, lane_xc[r, l], s, i]",
        "                for k in range(0, nc, 2):",
        "                    s = k // half",
        "                    for l in range(xh):",
        "                        ar = a[g, rr, i, k, l]",
        "                        ai = a[g, rr, i, k + 1, l]",
        "                        wk[k, l] += ar * vr[s, l] - ai * vi[s, l]",
        "                        wk[k + 1, l] += ar * vi[s, l] + ai * vr[s, l]",
        "            for k in range(nc):",
        "                for l in range(xh):",
        "                    out[row, k, l] = wk[k, l]",
    ]
    return "\n".join(L) + "\n"
