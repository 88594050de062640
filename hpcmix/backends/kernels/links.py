"""Decoding a compressed SU(3) link into the 18 real scalars ``u{a}{b}r``, ``u{a}{b}i`` (statements).

Parameters are read as ``p(k)``, a callable giving the expression of the k-th real parameter (already
multiplied by the storage scale); the conventions are those of :mod:`hpcmix.precision.reconstruct`:

* 18: the nine entries row-major, (re, im) interleaved;
* 12: rows a, b as 18 does; c = conj(a x b);
* 8: twisted V = U F from arg(V00)/pi, arg(V20)/pi, V01, V02, V10; U = V F^dag.
"""

import numpy as np

from ...precision.reconstruct import TWIST


def decode(reconstruct, p, prefix="u"):
    """Statements (list of str) setting ``{prefix}{a}{b}r/i`` for a, b in 0..2."""
    out = []
    if reconstruct in (18, 12):
        rows = 3 if reconstruct == 18 else 2
        for a in range(rows):
            for b in range(3):
                out.append(f"{prefix}{a}{b}r = {p(2 * (3 * a + b))}")
                out.append(f"{prefix}{a}{b}i = {p(2 * (3 * a + b) + 1)}")
        if reconstruct == 12:
            out += _third_row(prefix, prefix, conj=True)
        return out
    if reconstruct == 8:
        return _decode8(p, prefix)
    raise ValueError(f"no link decoding for reconstruct {reconstruct}")


def _third_row(src, dst, conj):
    """c = conj(a x b) with a, b rows 0, 1 of ``src``: c_k = conj(a_i b_j - a_j b_i), (i, j, k) cyclic."""
    out = []
    for k, (i, j) in enumerate(((1, 2), (2, 0), (0, 1))):
        re = f"({src}0{i}r*{src}1{j}r - {src}0{i}i*{src}1{j}i - {src}0{j}r*{src}1{i}r + {src}0{j}i*{src}1{i}i)"
        im = f"({src}0{i}r*{src}1{j}i + {src}0{i}i*{src}1{j}r - {src}0{j}r*{src}1{i}i - {src}0{j}i*{src}1{i}r)"
        out.append(f"{dst}2{k}r = {re}")
        out.append(f"{dst}2{k}i = {'-' if conj else ''}{im}")
    return out


def _decode8(p, prefix):
    v = "v_"
    s = [f"th0 = {np.pi!r} * {p(0)}", f"th2 = {np.pi!r} * {p(1)}",
         f"{v}01r = {p(2)}", f"{v}01i = {p(3)}", f"{v}02r = {p(4)}", f"{v}02i = {p(5)}",
         f"{v}10r = {p(6)}", f"{v}10i = {p(7)}",
         f"nn = {v}01r*{v}01r + {v}01i*{v}01i + {v}02r*{v}02r + {v}02i*{v}02i",
         f"c1sq = {v}10r*{v}10r + {v}10i*{v}10i",
         "m0 = math.sqrt(max(1.0 - nn, 0.0))",
         "m2 = math.sqrt(max((nn - c1sq) if nn <= 1.0 else (1.0 - c1sq), 0.0))",
         f"{v}00r = m0 * math.cos(th0)", f"{v}00i = m0 * math.sin(th0)",
         f"{v}20r = m2 * math.cos(th2)", f"{v}20i = m2 * math.sin(th2)",
         "inv = 1.0 / nn"]

    def cm(ar, ai, br, bi):          # (a * b) as (re, im) expressions
        return f"({ar}*{br} - {ai}*{bi})", f"({ar}*{bi} + {ai}*{br})"

    def conj(n):
        return f"{v}{n}r", f"(-{v}{n}i)"

    def plain(n):
        return f"{v}{n}r", f"{v}{n}i"

    # V11 = -(V20* V02* + V00* V10 V01) / N, V12 = (V20* V01* - V00* V10 V02) / N,
    # V21 = (V10* V02* - V00* V20 V01) / N,  V22 = -(V10* V01* + V00* V20 V02) / N
    for name, sign, (x1, x2), (y1, y2, y3), opsign in (
            ("11", -1, ("20", "02"), ("00", "10", "01"), 1), ("12", 1, ("20", "01"), ("00", "10", "02"), -1),
            ("21", 1, ("10", "02"), ("00", "20", "01"), -1), ("22", -1, ("10", "01"), ("00", "20", "02"), 1)):
        ar, ai = cm(*conj(x1), *conj(x2))
        tr, ti = cm(*conj(y1), *plain(y2))
        br, bi = cm(tr, ti, *plain(y3))
        op = "+" if opsign > 0 else "-"
        s.append(f"{v}{name}r = {sign}.0 * ({ar} {op} {br}) * inv")
        s.append(f"{v}{name}i = {sign}.0 * ({ai} {op} {bi}) * inv")
    # U = V F^dag: U[a][b] = sum_k V[a][k] conj(F[b][k])
    fd = np.conj(TWIST)
    for a in range(3):
        for b in range(3):
            re, im = [], []
            for k in range(3):
                c = fd[b, k]
                re.append(f"{c.real!r}*{v}{a}{k}r - {c.imag!r}*{v}{a}{k}i")
                im.append(f"{c.real!r}*{v}{a}{k}i + {c.imag!r}*{v}{a}{k}r")
            s.append(f"{prefix}{a}{b}r = " + " + ".join(re))
            s.append(f"{prefix}{a}{b}i = " + " + ".join(im))
    return s
