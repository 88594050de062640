"""Progress of long solves: the outermost solve is reported at most every progress_seconds, with its
iteration, iterated residual, rate and time left; plain lines in a log, one redrawn line with a bar on a
terminal; --quiet and progress_seconds = 0 print nothing; nested (preconditioner) solves are not reported."""

import io

import numpy as np

from cli_helpers import SOLVER_BODY, hpcmix, write_deck
from hpcmix import watch
from hpcmix.progress import Progress
from hpcmix.solvers.base import SolveResult

LINE = "[prop] cg: iteration"


def solve(reporter, steps, tol=1e-10):
    """A fake solve whose residual falls a decade per step, every step reported (every = 0)."""
    result = SolveResult(x=None, solver="cg")
    inner = SolveResult(x=None, solver="mr")
    reporter.stage = "prop"
    watch.reset()                                    # whatever an earlier test left running
    with watch.watching(reporter):
        watch.begin(result, tol)
        watch.begin(inner, 0.1)                      # a preconditioner's solve while the outer one runs
        for k in range(1, steps + 1):
            inner.step(0.5)
            result.step(10.0 ** -k)
        watch.end(inner)
        watch.end(result)
    return result


def test_plain_lines_in_a_log():
    out = io.StringIO()
    solve(Progress(0.0, out, tty=False), 4)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and all(line.startswith(LINE) for line in lines), lines
    assert "iteration 4, residual 1.0e-04 (iterated)" in lines[-1] and "s left" in lines[-1]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert "mr:" not in out.getvalue()


def test_bar_on_a_terminal():
    out = io.StringIO()
    solve(Progress(0.0, out, tty=True), 5)
    text = out.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1
    last = text.split("\r")[-1]
    # 4 decades done since the first iteration's 1e-1, 5 left to 1e-10: 8 of 20
    assert last.startswith("[########------------]  40% ") and "iteration 5" in last


def test_at_most_every_interval():
    out = io.StringIO()
    solve(Progress(3600.0, out, tty=False), 50)
    assert out.getvalue() == ""


def test_progress_lines_from_a_deck_and_quiet(tmp_path):
    body = SOLVER_BODY.format(solver='{ kind = "cg", tol = 1e-12 }').replace("kappa = 0.12", "kappa = 0.128")
    deck = tmp_path / "deck.toml"
    deck.write_text('[run]\noutput = "out.h5"\nprogress_seconds = 1e-9\n' + body)
    run = hpcmix("run", deck, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith(LINE)]
    assert lines and all("decades/s" in line for line in lines), run.stdout
    iterations = [int(line.split("iteration ")[1].split(",")[0]) for line in lines]
    assert np.all(np.diff(iterations) != 0)
    assert "[prop] done in" in run.stdout
    quiet = hpcmix("run", deck, "--quiet", "--overwrite", cwd=tmp_path)
    assert quiet.returncode == 0 and LINE not in quiet.stdout and "[prop] done in" in quiet.stdout
    write_deck(deck, body)
    assert LINE not in hpcmix("run", deck, "--overwrite", cwd=tmp_path).stdout       # default: every 10 s
