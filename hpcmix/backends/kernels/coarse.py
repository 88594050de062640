"""Numba source of the multigrid coarse stencil (:class:`hpcmix.solvers.multigrid.coarse.CoarseOperator`).

Per coarse site s, with A_0 = X(s) and A_{1 + 2 mu + k} = Y_mu^{+,-}(s) (k = 0 forward, 1 backward) and v_d the
field at s (d = 0) or at its neighbour s +- mu:

    out(s) = sum_{d < 9} A_d(s) v_d(s).

Storage (the kernel layout, :func:`hpcmix.solvers.multigrid.coarse.pack`): ``m[S, 9, N, 2, N]`` with
``m[s, d, j, 0 / 1, i]`` = re / im A_d(s)[i, j], each matrix transposed so that the loop over its rows i is
contiguous and vectorizes without reassociating sums; in fixed point a float32 norm per matrix row,
``mn[s, d, i]``, which multiplies row i's sum over j once. Fields are planar reals ``v[9, S, 2, N]`` and
``out[S, 2, N]`` in the compute dtype (float32 below double), which the sums are accumulated in.
"""

from .blas import HEADER, blocked


def coarse_stencil_source(fixed):
    """``kernel(out, m, mn, v)`` (module doc); ``fixed``: m holds integers scaled by the row norms ``mn``."""
    L = HEADER + ["def kernel(out, m, mn, v):",
                  "    nrows, nd, n = m.shape[0], m.shape[1], m.shape[2]",
                  "    CT = v.dtype.type",
                  "    for row in prange(nrows):",
                  "        accr = np.zeros(n, v.dtype)",
                  "        acci = np.zeros(n, v.dtype)"]
    if fixed:
        L += ["        tr = np.empty(n, v.dtype)",
              "        ti = np.empty(n, v.dtype)"]
    L += ["        for d in range(nd):"]
    sr, si = ("tr", "ti") if fixed else ("accr", "acci")
    if fixed:
        L += ["            for i in range(n):",
              "                tr[i] = 0",
              "                ti[i] = 0"]
    L += ["            for j in range(n):",
          "                cr = v[d, row, 0, j]",
          "                ci = v[d, row, 1, j]",
          "                for i in range(n):",
          "                    ar = CT(m[row, d, j, 0, i])",
          "                    ai = CT(m[row, d, j, 1, i])",
          f"                    {sr}[i] += ar * cr - ai * ci",
          f"                    {si}[i] += ar * ci + ai * cr"]
    if fixed:
        L += ["            for i in range(n):",
              "                nrm = CT(mn[row, d, i])",
              "                accr[i] += tr[i] * nrm",
              "                acci[i] += ti[i] * nrm"]
    L += ["        for i in range(n):",
          "            out[row, 0, i] = accr[i]",
          "            out[row, 1, i] = acci[i]"]
    return "\n".join(blocked(L)) + "\n"
