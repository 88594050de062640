"""The HTML page of a report: which figures it shows (file names, captions, how to draw each) in
which section, next to which tables, and the page itself (``index.html``, plain HTML and CSS)."""

import html
import re
from dataclasses import dataclass, field

from . import figures
from .tables import correlator_table, dense_table, numeric, plaquette_table, solve_table

INDEX = "index.html"


@dataclass
class Plot:
    name: str       # PNG file name in the report folder
    caption: str
    draw: object    # () -> matplotlib Figure


@dataclass
class Section:
    title: str
    tables: list = field(default_factory=list)
    plots: list = field(default_factory=list)


def sections(results):
    """The page's sections; PNG names are unique and made of the stage names' safe characters."""
    names = _Names()
    out = []
    summary = [t for t in (solve_table(results.solves), dense_table(results.dense)) if t[2]]
    if summary:
        out.append(Section("Summary of the solves", summary))
    if results.plaquettes:
        out.append(Section("Gauge fields", [plaquette_table(results.plaquettes)],
                           [Plot(names("plaquette"), "average plaquette per stage",
                                 lambda: figures.plaquette_figure(results.plaquettes))]))
    for c in results.correlators:
        out.append(Section(f"Correlator: {c.stage} ({c.channel})", [correlator_table(c)], [
            Plot(names(f"correlator-{c.stage}"), f"{c.stage}: C(t)", lambda c=c: figures.correlator_figure(c)),
            Plot(names(f"effective-mass-{c.stage}"), f"{c.stage}: effective mass m_eff(t) = log(C(t) / C(t+1))",
                 lambda c=c: figures.effective_mass_figure(c))]))
    stages = list(dict.fromkeys(s.stage for s in results.solves))
    for stage in stages:
        plots = [Plot(names(f"solve-{s.stage}-{s.index}"),
                      f"{s.stage} solve {s.index}: {s.iterations} iterations, true residual {s.true_residual:.3e}",
                      lambda s=s: figures.convergence_figure(s)) for s in results.solves if s.stage == stage]
        out.append(Section(f"Convergence: {stage}", [], plots))
    for d in results.dense:
        out.append(Section(f"Convergence: {d.stage} (dense)", [], [
            Plot(names(f"dense-{d.stage}"), f"{d.stage}: backward error {d.backward_error:.3e}",
                 lambda d=d: figures.dense_figure(d))]))
    return out


class _Names:
    """Unique PNG file names from stage names (unsafe characters become '_')."""

    def __init__(self):
        self.used = set()

    def __call__(self, stem):
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).lstrip(".") or "figure"
        name, n = f"{stem}.png", 1
        while name in self.used:
            n += 1
            name = f"{stem}-{n}.png"
        self.used.add(name)
        return name


CSS = """body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f0f0f0; }
td.text { text-align: left; }
figure { display: inline-block; margin: 0.5em; }
figcaption { font-size: 0.85em; text-align: center; }
.warning { color: #a00; font-weight: bold; }"""


def render(results, page_sections):
    """The HTML text of the page."""
    run = results.run
    e = html.escape
    info = [("results file", run.path), ("written by", f"hpcmix {run.hpcmix}"), ("deck", run.deck_file),
            ("lattice", " x ".join(map(str, run.lattice)) or "-"), ("process grid", str(run.grid or "-")),
            ("ranks", str(run.ranks)), ("backend", run.backend),
            ("run time", f"{run.seconds:.3g} s" if run.finished else "-")]
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             f"<title>hpcmix report: {e(run.path)}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>",
             "<h1>hpcmix report</h1>", "<table>"]
    parts += [f"<tr><th>{e(k)}</th><td class=\"text\">{e(v)}</td></tr>" for k, v in info]
    parts.append("</table>")
    if not run.finished:
        parts.append("<p class=\"warning\">Partial results: the run did not finish.</p>")
    for section in page_sections:
        parts.append(f"<h2>{e(section.title)}</h2>")
        parts += [_table(*t) for t in section.tables]
        parts += [f"<figure><img src=\"{e(p.name)}\" alt=\"{e(p.caption)}\" width=\"640\">"
                  f"<figcaption>{e(p.caption)}</figcaption></figure>" for p in section.plots]
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)


def _table(title, header, rows):
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<h3>{e(title)}</h3>\n<table>\n<tr>{head}</tr>\n{body}\n</table>"


def _cell(text):
    return f"<td>{html.escape(text)}</td>" if numeric(text) else f"<td class=\"text\">{html.escape(text)}</td>"
