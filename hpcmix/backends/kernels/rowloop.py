"""Numba CPU kernels over the even-odd row layout (:mod:`hpcmix.fields.layout`), generated as source.

The threads share out blocks of the rows a kernel is given (``prange``; each block allocates its work
array once). For each row and each chunk of ``W`` lanes (:func:`lanes`: 8, or 16 for single fields on
long rows; fixed when the kernel is generated) a kernel first copies what the chunk reads into the work array,
decoding as it copies (fixed-point spinors times their per-site norm, link parameters times the
storage scale of their direction): per direction (8 for Wilson, 16 for asqtad) the neighbour row (the
x neighbours shifted by one or two lanes, the lanes that leave the row taken from the column ghosts),
the link and, where the links carry no phases, the boundary phase; the copies of a full chunk are written
lane by lane, loads before stores, for numba's SLP vectorizer (:func:`_lanes`), and the results go back to
the output rows the same way. The per-site arithmetic then runs
in a loop over the lanes that reads only the work array, so the compiler vectorizes it across sites;
each direction's neighbour values are read just before its statements, which keeps few of them live.
Fixed-point outputs are encoded in the same loop (norm = max |re|, |im| / M per site).

The generated module is written to the kernel cache folder (``HPCMIX_KERNEL_CACHE``, default
``~/.cache/hpcmix/kernels``) and compiled by numba with ``cache=True``, so a second run compiles
nothing.
"""

import contextlib
import functools
import hashlib
import re
import importlib.util
import os
import sys

from . import site

#: lanes per chunk: the work array's stride, a compile-time constant whatever the row length, so the
#: lane loop has a fixed trip count the compiler vectorizes and one compiled kernel serves every lattice
#: (a shorter row or last chunk fills only its first lanes: the others compute on stale values of the
#: work array and are not written out)
LANES = 8
#: lanes per chunk of float32-computing fields (single; half on rows packed in pairs): one full 512-bit
#: vector. In-process A/B, one thread (2026-12-01): Wilson single reconstruct 18 on 32 x 16^3 1.8x the
#: sites/s of 8 lanes; on 16^4 (rows of 8 lanes, two rows per chunk) Wilson single 1.25x, half reconstruct
#: 12 1.34x, asqtad half 1.13x, but asqtad single 0.9x (it keeps 8 lanes there); half on rows of 16 lanes
#: gained nothing (double was not measured)
WIDE_LANES = 16


def lanes(xh, compute, fixed, ncomp=24):
    """(W lanes per chunk, rows per chunk, row length or None) for rows of ``xh`` lanes of ``ncomp`` reals
    per site: float32-computing rows of W / 2 = 8 lanes two to a :data:`WIDE_LANES` chunk (not IEEE colour
    vectors); float32 IEEE fields on rows of a multiple of 16 in 16-lane chunks; rows of 9 .. 15 lanes (local
    X 18 .. 30, e.g. 24) one to a 16-lane chunk; else chunks of :data:`LANES` along the row, the last maybe
    short (row length None). A known row length gets the SLP-vectorized copies (:func:`_lanes`) for all
    its lanes, a short last chunk the loops (2026-12-01, 24^4, two threads: rows of 12 lanes as 8 + 4 ran
    single reconstruct 18 at 8.2 Msites/s, 2.8x slower than 16^4)."""
    if compute == "float32" and xh == WIDE_LANES // 2 and (fixed or ncomp > 6):
        return WIDE_LANES, 2, xh
    if compute == "float32" and not fixed and xh % WIDE_LANES == 0:
        return WIDE_LANES, 1, None
    if LANES < xh < WIDE_LANES:
        return WIDE_LANES, 1, xh
    return LANES, 1, None


#: blocks of rows the threads share out (each allocates its work array once)
BLOCKS = 64


def _indent(lines, n):
    return [" " * n + s for s in lines]


def _load(in_fixed, m):
    return site.spinor(in_fixed, "nr", "c", m)


def _ghost(in_fixed, side, j):
    return site.column_ghost(in_fixed, side, j, "c")


def _lanes(dst, src, lanes, trip, name="t"):
    """Statements storing ``src(l)`` (an expression of lane l, given as a string) at ``dst(l)`` (a statement's
    target) for the lanes ``range(*lanes)``. For a constant ``trip`` the lanes are written out, every load (into
    locals ``{name}{l}``) before the first store: numba's SLP vectorizer (enabled while these kernels compile,
    :func:`slp_vectorization`) then packs them into vector loads, conversions and stores, where a loop stays
    scalar (LLVM cannot tell the work array from the arrays read, so it may not reorder a loop's loads and
    stores; 6x on the copies measured in one thread). For a runtime ``trip`` (a short row's ``w``), a loop."""
    if isinstance(trip, int):
        lanes = range(*lanes)
        return [f"{name}{l} = {src(str(l))}" for l in lanes] + [f"{dst(str(l))} = {name}{l}" for l in lanes]
    return [f"for l in range({lanes[0]}, {lanes[1]}):", f"    {dst('l')} = {src('l')}"]


def _shifted_lines(sh, ncomp, in_fixed, W, trip, base):
    """The neighbours of a chunk of ``trip`` lanes (the constant W, or a runtime ``w``) shifted by ``sh``
    lanes (a constant): the lanes whose neighbour is in the row copied as one shifted run, the |sh| lanes
    at the chunk's edge from the row or its column ghosts. Lane l of the chunk goes to ``wk[... base + l]``."""
    at = f"(d * {ncomp} + c) * {W}{base}"
    k = abs(sh)
    if sh > 0:
        run, edge, test, ghost = ((0, trip - k if isinstance(trip, int) else f"{trip} - {k}"),
                                  f"range({trip} - {k}, {trip})", "m < xh", _ghost(in_fixed, 0, "m - xh"))
    else:
        run, edge, test, ghost = ((k, trip), f"range({k})", "m >= 0", _ghost(in_fixed, 1, "-m - 1"))
    return [f"for c in range({ncomp}):"] + _indent(
        _lanes(lambda l: f"wk[{at} + {l}]", lambda l: _load(in_fixed, f"l0 + {l} + {sh}"), run, trip), 4) + [
        f"    for l in {edge}:",
        f"        m = l0 + l + {sh}",
        f"        if {test}:",
        f"            wk[{at} + l] = {_load(in_fixed, 'm')}",
        "        else:",
        f"            wk[{at} + l] = {ghost}",
    ]


def _copy_lines(trip, base, ncomp, nlink, in_fixed, W, link0, ph0, shifts, phased):
    """The statements copying (and decoding) the neighbours, links and phases of ``trip`` lanes of ``row``
    from lane ``l0`` into the work array from lane ``base`` (``trip`` a constant, W for a full chunk or the
    known row length, written out lane by lane by :func:`_lanes`; a runtime ``w`` for a row's short last
    chunk, as loops; ``base`` " + base" where rows lie side by side). ``shifts``: the nonzero lane shifts that
    occur."""
    at = f"(d * {ncomp} + c) * {W}{base}"
    L = [
        "for d in range(NDIR):",
        "    nr = nbrow[d, row]",
        "    sh = r + XOFF[d] if ISX[d] else 0",
        "    if sh == 0:",
        f"        for c in range({ncomp}):",
    ] + _indent(_lanes(lambda l: f"wk[{at} + {l}]", lambda l: _load(in_fixed, f"l0 + {l}"), (0, trip), trip), 12)
    for sh in shifts:
        L += [f"    elif sh == {sh}:"] + _indent(_shifted_lines(sh, ncomp, in_fixed, W, trip, base), 8)
    L += [f"    for k in range({nlink}):"] + _indent(_lanes(
        lambda l: f"wk[({link0} + d * {nlink} + k) * {W}{base} + {l}]",
        lambda l: f"CDT(lk[row, d, k, l0 + {l}]) * lscale[d]", (0, trip), trip, "u"), 8)
    if phased:
        L += _indent(_lanes(lambda l: f"wk[({ph0} + d) * {W}{base} + {l}]", lambda l: f"ph[row, d, l0 + {l}]",
                            (0, trip), trip, "v"), 4)
    return L


def _store_lines(trip, ncomp, out_fixed, W, out0, norm_slot):
    """The statements writing row ``row``'s ``trip`` lanes (the ``s``-th row of the chunk) from the work
    array to ``out`` (and its norms), as :func:`_lanes` writes them."""
    L = [f"for c in range({ncomp}):"] + _indent(_lanes(
        lambda l: f"out[row, c, l0 + {l}]", lambda l: f"wk[({out0} + c) * {W} + s * {trip} + {l}]", (0, trip), trip,
        "q"), 4)
    if out_fixed:
        L += _lanes(lambda l: f"outn[row, l0 + {l}]", lambda l: f"np.float32(wk[{norm_slot} * {W} + s * {trip} + {l}])",
                    (0, trip), trip, "q")
    return L


def hop_kernel_source(body, ncomp, nlink, in_fixed, out_fixed, compute, W, xoff, phased=True, pack=1, row=None):
    """Source of ``kernel(out, outn, psi, psin, cg, cgn, lk, lscale, ph, rpar, nbrow, rows, out_scale)``
    working through rows in chunks of ``W`` lanes (:func:`lanes`; with a ``row`` length, for rows of exactly
    that many lanes, ``pack`` rows side by side in each chunk, the lanes past pack x row computed on stale
    values and not written out), over the directions d = 0 ..
    len(xoff) - 1 of :mod:`hpcmix.fields.layout`: ``xoff[d]`` is the lane offset of an x direction
    (its lanes shift by r_p(row) + xoff[d]), None for the others.

    ``body`` are the statements of one site reading ``p{d}_{k}`` (neighbour d's component k),
    ``L{d}_{k}`` (link parameter k of direction d, times ``lscale[d]``), ``ph{d}`` (the real phase
    ``ph[row, d, xh]``, read only where ``phased``) and writing ``o0 .. o{ncomp-1}``."""
    ndir = len(xoff)
    spin0, link0 = 0, ndir * ncomp
    ph0 = link0 + ndir * nlink
    out0 = ph0 + (ndir if phased else 0)
    norm_slot = out0 + ncomp
    nslots = norm_slot + 1
    shifts = sorted({o + r for o in xoff if o is not None for r in (0, 1)} - {0})
    L = [
        "import math",
        "import numpy as np",
        "from numba import njit, prange",
        "",
        f"CDT = np.{compute}",
        f"NDIR = {ndir}",
        f"XOFF = np.array({[0 if o is None else o for o in xoff]}, np.int64)",
        f"ISX = np.array({[o is not None for o in xoff]})",
        "",
        "",
        "@njit(parallel=True, fastmath=True, boundscheck=False, cache=True, nogil=True)",
        "def kernel(out, outn, psi, psin, cg, cgn, lk, lscale, ph, rpar, nbrow, rows, out_scale):",
        "    xh = psi.shape[2]",
        "    zero = CDT(0.0)",
        "    n = rows.shape[0]",
        f"    nblk = min(n, {BLOCKS})",
        "    for b in prange(nblk):",
        f"        wk = np.zeros({nslots * W}, CDT)",
        "        first, last = b * n // nblk, (b + 1) * n // nblk",
        f"        for i in range(first, last, {pack}):",
        f"            nrow = min({pack}, last - i)",
    ]
    def copy(trip, base):
        return _copy_lines(trip, base, ncomp, nlink, in_fixed, W, link0, ph0, shifts, phased)

    if row is None:              # chunks of W lanes along the row, the last one maybe short
        L += [f"            for l0 in range(0, xh, {W}):",
              f"                w = min({W}, xh - l0)",
              "                for s in range(nrow):",
              "                    row = rows[i + s]",
              "                    r = rpar[row]",
              "                    base = s * w",
              f"                    if w == {W}:"] + _indent(copy(W, ""), 24) + [
              "                    else:"] + _indent(copy("w", " + base"), 24)
    else:                        # rows of ``row`` lanes, ``pack`` of them side by side in a chunk
        L += ["            for l0 in range(1):",
              f"                w = {row}",
              "                for s in range(nrow):",
              "                    row = rows[i + s]",
              "                    r = rpar[row]",
              f"                    base = s * {row}"] + _indent(copy(row, " + base"), 20)
    L += [f"                for l in range({W}):"]
    lane, loaded = [], set()
    for s in body:
        for d in sorted({int(m) for m in re.findall(r"\bp(\d+)_", s)} - loaded):   # a direction's loads just
            loaded.add(d)                                                           # before its first use
            lane += [f"p{d}_{k} = wk[{(spin0 + d * ncomp + k) * W} + l]" for k in range(ncomp)]
            if phased:
                lane.append(f"ph{d} = wk[{(ph0 + d) * W} + l]")
        s = re.sub(r"\bL(\d+)_(\d+)\b", lambda m: f"wk[{(link0 + int(m[1]) * nlink + int(m[2])) * W} + l]", s)
        lane.append(site.typed(s))
    if out_fixed:
        lane += site.encode(ncomp, lambda k, q: f"wk[{(out0 + k) * W} + l] = {q}",
                            lambda n: f"wk[{norm_slot * W} + l] = {n}")
    else:
        lane += [f"wk[{(out0 + k) * W} + l] = o{k}" for k in range(ncomp)]
    L += _indent(lane, 20)
    L += ["                for s in range(nrow):",
          "                    row = rows[i + s]"]
    store = functools.partial(_store_lines, ncomp=ncomp, out_fixed=out_fixed, W=W, out0=out0, norm_slot=norm_slot)
    if row is None:
        L += [f"                    if w == {W}:"] + _indent(store(W), 24) + [
              "                    else:"] + _indent(store("w"), 24)
    else:
        L += _indent(store(row), 20)
    return "\n".join(L) + "\n"


@contextlib.contextmanager
def slp_vectorization():
    """numba's SLP vectorizer switched on for the kernels compiled inside: the hop kernels, whose lane
    statements are written for it (:func:`_lanes`). numba leaves it off unless ``NUMBA_SLP_VECTORIZE=1``, since
    LLVM miscompiled some code with it (numba PR #8852, 2023); the hop kernels' tests compare every compiled
    variant with the numpy reference, and the other kernels compile as numba does."""
    from numba.core import config
    before = config.SLP_VECTORIZE
    config.SLP_VECTORIZE = 1
    try:
        yield
    finally:
        config.SLP_VECTORIZE = before


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
