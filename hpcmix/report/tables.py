"""The report's tables as (title, header, rows) of strings, and their plain-text rendering: the same
rows go to the terminal and into the HTML page."""

import math


def _num(v, fmt=".3e"):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _per_part(times):
    """'double 0.70, half 6.71' (seconds per precision or phase)."""
    return ", ".join(f"{k} {v:.3g}" for k, v in times.items()) or "-"


def _fallbacks(fallbacks):
    return ", ".join(f"{f.get('from')}->{f.get('to')} at {f.get('iteration')}" for f in fallbacks) or "-"


def solve_table(solves):
    header = ["stage", "solve", "solver", "precision", "iterations", "reliable updates", "restarts", "fallbacks",
              "last iterated residual", "true residual", "converged", "seconds", "time per precision (s)",
              "GFLOP/s"]
    rows = [[s.stage, str(s.index), s.solver, s.precision if s.sloppy == s.precision else f"{s.precision}-{s.sloppy}",
             str(s.iterations), str(s.reliable_updates), str(s.restarts), _fallbacks(s.fallbacks),
             _num(float(s.history[-1]) if len(s.history) else None), _num(s.true_residual),
             "yes" if s.converged else "NO", _num(s.seconds, ".3g"), _per_part(s.timings), _num(s.gflops, ".3g")]
            for s in solves]
    return "Solves", header, rows


def dense_table(dense):
    header = ["stage", "n", "LU + refinement", "iterations", "outer steps", "backward error (HPL-MxP)", "code",
              "fell back to fp64", "converged", "seconds", "time per phase (s)"]
    rows = [[d.stage, str(d.n), f"{d.factorization} + {d.refinement}", str(d.niters), str(d.outer_niters),
             _num(d.backward_error), f"{d.code} ({d.code_name})" if d.code else "0", "yes" if d.fell_back else "no",
             "yes" if d.converged else "NO", _num(d.seconds, ".3g"), _per_part(d.times)] for d in dense]
    return "Dense solves", header, rows


def plaquette_table(plaquettes):
    rows = [[p.stage, p.kind or "-", _num(p.plaquette, ".12f"), _num(p.link_trace, ".12f")] for p in plaquettes]
    return "Plaquette", ["stage", "kind", "plaquette", "link trace"], rows


def correlator_table(corr):
    meff = corr.effective_mass()
    rows = [[str(t), _num(float(c), ".12e"), _num(float(meff[t]), ".6f") if t < len(meff) else "-"]
            for t, c in enumerate(corr.values)]
    return f"{corr.stage}: {corr.channel} correlator", ["t", "C(t)", "m_eff(t) = log(C(t)/C(t+1))"], rows


def tables(results):
    """Every table of the report that has rows."""
    out = [solve_table(results.solves), dense_table(results.dense), plaquette_table(results.plaquettes)]
    out += [correlator_table(c) for c in results.correlators]
    return [t for t in out if t[2]]


def format_text(title, header, rows):
    """A plain-text table: columns padded to their widest cell, numbers right-aligned."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    right = [all(numeric(r[i]) for r in rows) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    return "\n".join([title, line(header), line(["-" * w for w in widths]), *map(line, rows)])


def numeric(cell):
    """Whether a cell holds a number (or '-', no number): right-aligned."""
    try:
        float(cell)
        return True
    except ValueError:
        return cell == "-"
