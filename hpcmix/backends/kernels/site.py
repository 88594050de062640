"""How a generated stencil kernel reads and stores one site, shared by every target (the numba CPU row
loop of :mod:`hpcmix.backends.kernels.rowloop`, the CUDA kernels of :mod:`hpcmix.backends.cuda`).

Reads are compute-type (``CDT``) expressions; a fixed-point component (QUDA's half and quarter) is
decoded in registers as its integer times the site's float32 norm. A site's results ``o0 ..`` encode in
fixed point as s = max_k |o_k|, q_k = rint(o_k M / s) (0 where s = 0), norm s / M, with M the output
precision's scale (``out_scale``).
"""


def spinor(fixed, row, comp, lane):
    """Component ``comp`` of ``psi`` (norms ``psin``) at (``row``, ``lane``), decoded."""
    if fixed:
        return f"CDT(psi[{row}, {comp}, {lane}]) * psin[{row}, {lane}]"
    return f"CDT(psi[{row}, {comp}, {lane}])"


def column_ghost(fixed, side, j, comp):
    """Component ``comp`` of column ghost ``j`` on ``side`` (0: x+, 1: x-) of ``row`` (``cg``, ``cgn`` of
    :mod:`hpcmix.fields.halo`), decoded."""
    if fixed:
        return f"CDT(cg[{side}, {j}, row, {comp}]) * cgn[{side}, {j}, row]"
    return f"CDT(cg[{side}, {j}, row, {comp}])"


def typed(statement):
    """A per-site body statement with its zero in the compute type (``zero``), so single stays single."""
    return statement.replace(" = 0.0", " = zero")


def encode(ncomp, store, store_norm, rint="np.rint", value="o{}".format):
    """Statements encoding ``value(k)`` (``o0 .. o{ncomp-1}``) in fixed point; ``store(k, expr)`` and
    ``store_norm(expr)`` are the statements writing q_k and the norm, ``rint`` the target's round-half-even."""
    return (["s_ = zero"] + [f"s_ = max(s_, abs({value(k)}))" for k in range(ncomp)]
            + ["f_ = out_scale / s_ if s_ > zero else zero"]
            + [store(k, f"{rint}({value(k)} * f_)") for k in range(ncomp)] + [store_norm("s_ / out_scale")])
