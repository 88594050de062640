"""The report's figures, drawn with matplotlib's Agg canvas (files only, never a window, no pyplot).

Each ``*_figure`` function returns a :class:`matplotlib.figure.Figure`; :func:`save_png` writes one.
matplotlib is an optional dependency (``pip install "hpcmix[report]"``); :func:`require_matplotlib`
says so cleanly where it is missing.
"""

import os

import numpy as np

from ..errors import HpcmixError


def require_matplotlib():
    """Import matplotlib, or raise an error telling how to install it."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError as exc:
        raise HpcmixError(f'the figures of hpcmix report need matplotlib ({exc}): pip install "hpcmix[report]"',
                          collective=True) from None


def _figure(title, xlabel, ylabel, log=False):
    """A figure with one axes (integer x ticks), on the Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if log:
        ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)
    return fig, ax


def convergence_figure(solve):
    """The iterated relative residual per iteration (log scale), the reliable updates on it (circles),
    the precision fallbacks (vertical dashed lines), the final true residual (star) and the tolerance."""
    precision = solve.precision if solve.sloppy == solve.precision else f"{solve.precision}-{solve.sloppy}"
    fig, ax = _figure(f"{solve.stage} solve {solve.index}: {solve.solver}, {precision}", "iteration",
                      "relative residual", log=True)
    h = solve.history
    its = np.arange(1, len(h) + 1)
    ax.plot(its, h, "-", color="C0", lw=1.2, label="iterated residual")
    marks = [i for i in (solve.reliable_update_iterations or []) if 1 <= i <= len(h)]
    if marks:
        ax.plot(marks, h[np.array(marks) - 1], "o", mfc="none", color="C1", ms=5,
                label=f"reliable update ({solve.reliable_updates})")
    elif solve.reliable_update_iterations is None and solve.reliable_updates:
        ax.plot([], [], " ", label=f"{solve.reliable_updates} reliable updates (file does not say where)")
    for f in solve.fallbacks:
        ax.axvline(f.get("iteration", 0), color="C3", ls="--", lw=1, label=f"fallback {f.get('from')} -> {f.get('to')}")
    if np.isfinite(solve.true_residual) and solve.true_residual > 0:
        ax.plot([max(len(h), 1)], [solve.true_residual], "*", color="C2", ms=10,
                label=f"true residual {solve.true_residual:.2e}")
    if solve.tol:
        ax.axhline(solve.tol, color="0.4", ls=":", lw=1, label=f"tol {solve.tol:g}")
    ax.legend(fontsize=8)
    return fig


def dense_figure(dense):
    """HPL-MxP's scaled residual per refinement step (log scale), the fallback to the float64 LU
    marked, and the pass threshold 16."""
    fig, ax = _figure(f"{dense.stage}: n = {dense.n}, {dense.factorization} LU + {dense.refinement} refinement",
                      "refinement step (0: the LU solution)", "scaled residual (HPL-MxP)", log=True)
    h = dense.history
    ax.plot(np.arange(len(h)), h, "o-", color="C0", ms=4, label="scaled residual")
    if dense.fell_back and dense.fallback_step is not None and dense.fallback_step >= 0:
        ax.axvline(dense.fallback_step - 0.5, color="C3", ls="--", lw=1, label="fallback to the fp64 LU")
    ax.axhline(16, color="0.4", ls=":", lw=1, label="HPL-MxP pass (16)")
    ax.legend(fontsize=8)
    return fig


def plaquette_figure(plaquettes):
    """The average plaquette of every stage that measured one (the file holds one number per stage)."""
    fig, ax = _figure("average plaquette", "stage", "plaquette")
    x = np.arange(len(plaquettes))
    ax.plot(x, [p.plaquette for p in plaquettes], "o", color="C0", ms=7)
    for xi, p in zip(x, plaquettes):
        ax.annotate(f"{p.plaquette:.6f}", (xi, p.plaquette), textcoords="offset points", xytext=(0, 8),
                    ha="center", fontsize=8)
    ax.set_xticks(x, [f"{p.stage}\n({p.kind})" if p.kind else p.stage for p in plaquettes], fontsize=8)
    ax.set_xlim(-0.5, len(plaquettes) - 0.5)
    return fig


def correlator_figure(corr):
    """C(t) against t on a log scale."""
    fig, ax = _figure(f"{corr.channel} correlator (stage {corr.stage}, source time {corr.source_time})",
                      "t (from the source)", "C(t)", log=True)
    t = np.arange(len(corr.values))
    positive = corr.values > 0
    ax.plot(t[positive], corr.values[positive], "o-", color="C0", ms=4)
    return fig


def effective_mass_figure(corr):
    """m_eff(t) = log(C(t) / C(t + 1)) against t."""
    fig, ax = _figure(f"{corr.channel} effective mass (stage {corr.stage})", "t (from the source)",
                      "m_eff(t) = log(C(t) / C(t+1))")
    meff = corr.effective_mass()
    ax.plot(np.arange(len(meff)), meff, "o-", color="C1", ms=4)
    ax.axhline(0, color="0.6", lw=0.8)
    return fig


def save_png(fig, path):
    """Write ``fig`` to ``path`` (PNG) under a temporary name, then move it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fig.savefig(tmp, format="png", dpi=100)
    os.replace(tmp, path)
