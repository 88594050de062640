"""``hpcmix report RESULTS [--html DIR]``: what a results file of ``hpcmix run`` holds, as tables and figures.

Without ``--html`` the summary tables (every solve: iterations, reliable updates, fallbacks, residuals,
time per precision, GFLOP/s; dense solves; plaquettes; correlators with the effective mass) are
printed as plain text and nothing is written. With ``--html DIR`` the same tables are printed, and
``DIR/index.html`` shows them with PNG figures beside it: a convergence plot per solve, the
plaquette, C(t) and the effective mass per correlator (matplotlib needed: ``hpcmix[report]``).
"""

from pathlib import Path

from . import folder, page
from .figures import require_matplotlib, save_png
from .results import read_results
from .tables import format_text, tables


def report(path, html_dir=None, out=print):
    """Print the tables of the results file ``path`` through ``out``; with ``html_dir`` also write the
    page and its figures there. Returns the files written (none without ``html_dir``)."""
    if html_dir is not None:
        require_matplotlib()
    results = read_results(path)
    plan = None if html_dir is None else _plan(Path(html_dir), results)   # a folder is refused before any output
    for table in tables(results):
        out(format_text(*table) + "\n")
    return [] if plan is None else _write(plan, results, path, out)


def _plan(target, results):
    """(folder, page sections, file names, the earlier report's files) after checking the folder."""
    page_sections = page.sections(results)
    names = [page.INDEX] + [p.name for s in page_sections for p in s.plots]
    return target, page_sections, names, folder.claim(target, names)


def _write(plan, results, source, out):
    target, page_sections, names, old = plan
    target.mkdir(parents=True, exist_ok=True)
    folder.write_marker(target, old + names, source)
    plots = [p for s in page_sections for p in s.plots]
    for plot in plots:
        save_png(plot.draw(), target / plot.name)
    folder.write_text(target / page.INDEX, page.render(results, page_sections))
    folder.remove_stale(target, old, names)
    folder.write_marker(target, names, source)
    replaced = " (replacing the report written there before)" if old else ""
    out(f"wrote {target / page.INDEX} and {len(plots)} figure{'' if len(plots) == 1 else 's'}{replaced}")
    return [target / n for n in names]
