"""Numba CPU kernels over the even-odd row layout (:mod:`hpcmix.fields.layout`), generated as source.

The threads share out blocks of the rows a kernel is given (``prange``; each block allocates its work
array once). For each row and each chunk of ``W`` lanes (:func:`lanes`: 8, or 16 for single fields on
long rows; fixed when the kernel is generated) a kernel first copies what the chunk reads into the work array,
decoding as it copies (fixed-point spinors times their per-site norm, link parameters times the
storage scale): the 8 neighbour rows (the x neighbours shifted by a lane, the lane that leaves the row
taken from the column ghosts), the 8 links and the boundary phases. The per-site arithmetic then runs
in a loop over the lanes that reads only the work array, so the compiler vectorizes it across sites;
each direction's neighbour values are read just before its statements, which keeps few of them live.
Fixed-point outputs are encoded in the same loop (norm = max |re|, |im| / M per site).

The generated module is written to the kernel cache folder (``HPCMIX_KERNEL_CACHE``, default
``~/.cache/hpcmix/kernels``) and compiled by numba with ``cache=True``, so a second run compiles
nothing.
"""

import hashlib
import re
import importlib.util
import os
import sys

#: lanes per chunk: the work array's stride, a compile-time constant whatever the row length, so the
#: lane loop has a fixed trip count the compiler vectorizes and one compiled kernel serves every lattice
#: (a shorter row or last chunk fills only its first lanes: the others compute on stale values of the
#: work array and are not written out)
LANES = 8
#: lanes per chunk of float32 (single) fields on rows of at least this many lanes: one full 512-bit
#: vector; 1.8x the sites/s of 8 lanes for single reconstruct 18 on 32 x 16^3 (in-process A/B,
#: 2026-12-01); half gained nothing from it (double was not measured)
WIDE_LANES = 16


def lanes(xh, compute, fixed):
    """Lanes per chunk for rows of ``xh`` lanes: :data:`WIDE_LANES` for float32 IEEE fields on rows that
    fill them, else :data:`LANES`."""
    return WIDE_LANES if compute == "float32" and not fixed and xh >= WIDE_LANES else LANES
#: blocks of rows the threads share out (each allocates its work array once)
BLOCKS = 64


def _indent(lines, n):
    return [" " * n + s for s in lines]


def _shifted_lines(ncomp, in_fixed, W):
    """The x neighbours of a full chunk (lane shift sh = +1 or -1): W - 1 lanes copied as one shifted
    run, the lane that may leave the row from the row or its column ghost."""
    def load(c, m):
        return f"CDT(psi[nr, {c}, {m}]) * psin[nr, {m}]" if in_fixed else f"CDT(psi[nr, {c}, {m}])"

    def ghost(side):
        return f"CDT(cg[{side}, row, c]) * cgn[{side}, row]" if in_fixed else f"CDT(cg[{side}, row, c])"

    at = f"(d * {ncomp} + c) * {W}"
    return [
        f"                    for c in range({ncomp}):",
        "                        if sh == 1:",
        f"                            for l in range({W - 1}):",
        f"                                wk[{at} + l] = {load('c', 'l0 + l + 1')}",
        f"                            if l0 + {W} < xh:",
        f"                                wk[{at} + {W - 1}] = {load('c', f'l0 + {W}')}",
        "                            else:",
        f"                                wk[{at} + {W - 1}] = {ghost(0)}",
        "                        else:",
        f"                            for l in range(1, {W}):",
        f"                                wk[{at} + l] = {load('c', 'l0 + l - 1')}",
        "                            if l0 > 0:",
        f"                                wk[{at}] = {load('c', 'l0 - 1')}",
        "                            else:",
        f"                                wk[{at}] = {ghost(1)}",
    ]


def _copy_lines(trip, ncomp, nlink, in_fixed, W, link0, ph0):
    """The statements copying (and decoding) a chunk's neighbours, links and phases into the work array,
    loops over ``trip`` lanes (the constant W for a full chunk, so they vectorize; ``w`` for a short one)."""
    return [
        "            for d in range(8):",
        "                nr = nbrow[d, row]",
        "                sh = r if d == 0 else (r - 1 if d == 1 else 0)",
        "                if sh == 0:",
        f"                    for c in range({ncomp}):",
        f"                        for l in range({trip}):",
        (f"                            wk[(d * {ncomp} + c) * {W} + l] = CDT(psi[nr, c, l0 + l]) * psin[nr, l0 + l]"
         if in_fixed else
         f"                            wk[(d * {ncomp} + c) * {W} + l] = CDT(psi[nr, c, l0 + l])"),
        "                else:",
    ] + (_shifted_lines(ncomp, in_fixed, W) if trip == W else [
        f"                    for c in range({ncomp}):",
        f"                        for l in range({trip}):",
        "                            m = l0 + l + sh",
        "                            if m >= xh:",
        ("                                v = CDT(cg[0, row, c]) * cgn[0, row]" if in_fixed else
         "                                v = CDT(cg[0, row, c])"),
        "                            elif m < 0:",
        ("                                v = CDT(cg[1, row, c]) * cgn[1, row]" if in_fixed else
         "                                v = CDT(cg[1, row, c])"),
        "                            else:",
        ("                                v = CDT(psi[nr, c, m]) * psin[nr, m]" if in_fixed else
         "                                v = CDT(psi[nr, c, m])"),
        f"                            wk[(d * {ncomp} + c) * {W} + l] = v",
    ]) + [
        f"                for k in range({nlink}):",
        f"                    for l in range({trip}):",
        f"                        wk[({link0} + d * {nlink} + k) * {W} + l] = CDT(lk[row, d, k, l0 + l]) * lscale",
        f"                for l in range({trip}):",
        f"                    wk[({ph0} + d) * {W} + l] = ph[row, d, l0 + l]",
    ]


def hop_kernel_source(body, ncomp, nlink, in_fixed, out_fixed, compute, W):
    """Source of ``kernel(out, outn, psi, psin, cg, cgn, lk, lscale, ph, rpar, nbrow, rows, out_scale)``
    working through rows in chunks of ``W`` lanes (:func:`lanes`).

    ``body`` are the statements of one site reading ``p{d}_{k}`` (neighbour d's component k),
    ``L{d}_{k}`` (link parameter k of direction d), ``ph{d}`` and writing ``o0 .. o{ncomp-1}``."""
    spin0, link0 = 0, 8 * ncomp
    ph0 = link0 + 8 * nlink
    out0 = ph0 + 8
    norm_slot = out0 + ncomp
    nslots = norm_slot + 1
    L = [
        "import math",
        "import numpy as np",
        "from numba import njit, prange",
        "",
        f"CDT = np.{compute}",
        "",
        "",
        "@njit(parallel=True, fastmath=True, boundscheck=False, cache=True, nogil=True)",
        "def kernel(out, outn, psi, psin, cg, cgn, lk, lscale, ph, rpar, nbrow, rows, out_scale):",
        "    xh = psi.shape[2]",
        "    zero = CDT(0.0)",
        "    for i in range(first, last):",
        "        row = rows[i]",
        "        r = rpar[row]",
        f"        for l0 in range(0, xh, {W}):",
        f"            w = min({W}, xh - l0)",
        f"            if w == {W}:",
    ] + _indent(_copy_lines(W, ncomp, nlink, in_fixed, W, link0, ph0), 4) + ["            else:"] + _indent(_copy_lines("w", ncomp, nlink, in_fixed, W, link0, ph0), 4) + [
        f"            for l in range({W}):",
    ]
    lane, loaded = [], set()
    subs = {}
    for d in range(8):
        for k in range(nlink):
            subs[f"L{d}_{k}"] = f"wk[{(link0 + d * nlink + k) * W} + l]"
    for s in body:
        for d in sorted({int(m) for m in re.findall(r"\bp(\d)_", s)} - loaded):   # a direction's loads just
            loaded.add(d)                                                          # before its first use
            lane += [f"p{d}_{k} = wk[{(spin0 + d * ncomp + k) * W} + l]" for k in range(ncomp)]
            lane.append(f"ph{d} = wk[{(ph0 + d) * W} + l]")
        for key in sorted(subs, key=len, reverse=True):
            s = s.replace(key, subs[key])
        lane.append(s.replace(" = 0.0", " = zero"))
    if out_fixed:
        lane.append("s_ = zero")
        lane += [f"s_ = max(s_, abs(o{k}))" for k in range(ncomp)]
        lane.append("f_ = out_scale / s_ if s_ > zero else zero")
        lane += [f"wk[{(out0 + k) * W} + l] = np.rint(o{k} * f_)" for k in range(ncomp)]
        lane.append(f"wk[{norm_slot * W} + l] = s_ / out_scale")
    else:
        lane += [f"wk[{(out0 + k) * W} + l] = o{k}" for k in range(ncomp)]
    L += _indent(lane, 16)
    L += [f"            for c in range({ncomp}):",
          "                for l in range(w):",
          f"                    out[row, c, l0 + l] = wk[({out0} + c) * {W} + l]"]
    if out_fixed:
        L += ["            for l in range(w):",
              f"                outn[row, l0 + l] = np.float32(wk[{norm_slot * W} + l])"]
    head = L.index("    for i in range(first, last):")
    blocks = ["    n = rows.shape[0]",
              f"    nblk = min(n, {BLOCKS})",
              "    for b in prange(nblk):",
              f"        wk = np.zeros({nslots * W}, CDT)",
              "        first, last = b * n // nblk, (b + 1) * n // nblk"]
    L = L[:head] + blocks + ["    " + line for line in L[head:]]
    return "\n".join(L) + "\n"


def cache_folder():
    folder = os.environ.get("HPCMIX_KERNEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hpcmix",
                                                                   "kernels")
    os.makedirs(folder, exist_ok=True)
    return folder


_loaded = {}


def load(source, name="kernel"):
    """The function ``name`` of the module with ``source``, written once to the cache folder (named by
    the source's hash, never rewritten, so numba's on-disk cache stays valid) and imported."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    if digest not in _loaded:
        path = os.path.join(cache_folder(), f"hpcmix_k_{digest}.py")
        if not os.path.exists(path):
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(source)
            os.replace(tmp, path)
        modname = f"hpcmix_k_{digest}"
        spec = importlib.util.spec_from_file_location(modname, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module
        spec.loader.exec_module(module)
        _loaded[digest] = module
    return getattr(_loaded[digest], name)
