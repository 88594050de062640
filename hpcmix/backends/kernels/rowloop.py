"""Numba CPU kernels over the even-odd row layout (:mod:`hpcmix.fields.layout`), generated as source.

A kernel runs one row per task (``prange`` over the rows it is given). For each chunk of ``W``
lanes of a row (a divisor of the row length up to ``LANES``, fixed when the kernel is generated) it
first copies what the chunk reads into a private work array, decoding as it copies (fixed-point spinors times their per-site norm, link parameters times the storage
scale): the 8 neighbour rows (the x neighbours shifted by a lane, the lane that leaves the row taken
from the column ghosts), the 8 links and the boundary phases. The per-site arithmetic then runs in
a loop over the lanes that reads only the work array, so the compiler vectorizes it across sites.
Fixed-point outputs are encoded in the same loop (norm = max |re|, |im| / M per site).

The generated module is written to the kernel cache folder (``HPCMIX_KERNEL_CACHE``, default
``~/.cache/hpcmix/kernels``) and compiled by numba with ``cache=True``, so a second run compiles
nothing.
"""

import hashlib
import importlib.util
import os
import sys

#: lanes per chunk: the work array's stride (a row of more lanes is done in chunks)
LANES = 16


def _indent(lines, n):
    return [" " * n + s for s in lines]


def chunk_lanes(xh):
    """Lanes per chunk for rows of ``xh`` lanes: the largest divisor of ``xh`` up to :data:`LANES`, a
    compile-time constant, so the lane loop has a fixed trip count the compiler vectorizes fully."""
    return max(w for w in range(1, min(xh, LANES) + 1) if xh % w == 0)


def hop_kernel_source(body, ncomp, nlink, in_fixed, out_fixed, compute, W):
    """Source of ``kernel(out, outn, psi, psin, cg, cgn, lk, lscale, ph, rpar, nbrow, rows, out_scale)``
    for rows whose lane count is a multiple of ``W`` (:func:`chunk_lanes`).

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
        "    for i in prange(rows.shape[0]):",
        "        row = rows[i]",
        "        r = rpar[row]",
        f"        wk = np.empty({nslots * W}, CDT)",
        f"        for l0 in range(0, xh, {W}):",
        f"            w = {W}",
        "            for d in range(8):",
        "                nr = nbrow[d, row]",
        "                sh = r if d == 0 else (r - 1 if d == 1 else 0)",
        "                if sh == 0:",
        f"                    for c in range({ncomp}):",
        "                        for l in range(w):",
        (f"                            wk[(d * {ncomp} + c) * {W} + l] = CDT(psi[nr, c, l0 + l]) * psin[nr, l0 + l]"
         if in_fixed else
         f"                            wk[(d * {ncomp} + c) * {W} + l] = CDT(psi[nr, c, l0 + l])"),
        "                else:",
        f"                    for c in range({ncomp}):",
        "                        for l in range(w):",
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
        f"                for k in range({nlink}):",
        "                    for l in range(w):",
        f"                        wk[({link0} + d * {nlink} + k) * {W} + l] = CDT(lk[row, d, k, l0 + l]) * lscale",
        "                for l in range(w):",
        f"                    wk[({ph0} + d) * {W} + l] = ph[row, d, l0 + l]",
        "            for l in range(w):",
    ]
    lane = []
    for d in range(8):
        lane += [f"p{d}_{k} = wk[{(spin0 + d * ncomp + k) * W} + l]" for k in range(ncomp)]
        lane.append(f"ph{d} = wk[{(ph0 + d) * W} + l]")
    subs = {}
    for d in range(8):
        for k in range(nlink):
            subs[f"L{d}_{k}"] = f"wk[{(link0 + d * nlink + k) * W} + l]"
    for s in body:
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
