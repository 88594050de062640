"""Where a long solve stands, printed while it runs (rank 0 only).

The pipeline installs a :class:`Progress` as a watcher of the outermost running solve (:mod:`hpcmix.watch`;
``[run] progress_seconds``; ``hpcmix run --quiet``: none) and names the stage it runs. At most every
``every`` seconds one report:

    [prop] cg: iteration 120, residual 3.2e-07 (iterated), 0.84 decades/s, about 4 s left

with the rate the iterated relative residual has fallen since the solve's first iteration (decades of
log10 per second) and the time left to ``tol`` at that rate. On a terminal the report is one line redrawn in
place with a bar of the decades done (``[#####-----] 50%``); in a batch log (not a tty) plain lines, no
control characters.
"""

import math
import sys
import time

BAR = 20


class Progress:
    def __init__(self, every, stream=None, tty=None):
        self.every, self.stream = float(every), stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.stage, self.drawn = "", False

    def begin(self, result, tol):
        self.tol, self.t0 = tol, time.monotonic()
        self.next = self.t0 + self.every

    def tick(self, result):
        now = time.monotonic()
        if now >= self.next and result.history:
            self.next = now + self.every
            self.report(result, now - self.t0)

    def end(self, result):
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
        self.drawn = False

    def report(self, result, elapsed):
        """One report of ``result`` after ``elapsed`` seconds (module doc)."""
        res, first = result.history[-1], result.history[0]
        done = math.log10(first / res) if 0 < res < first else 0.0
        rate = done / elapsed if elapsed > 0 else 0.0
        left = math.log10(res / self.tol) if res > self.tol else 0.0
        eta = f"about {left / rate:.{0 if left >= 10 * rate else 1}f} s left" if rate > 0 else "no progress yet"
        text = (f"[{self.stage}] {result.solver}: iteration {result.iterations}, residual {res:.1e} (iterated), "
                f"{rate:.2f} decades/s, {eta}")
        if self.tty:
            whole = done + left
            filled = int(BAR * done / whole) if whole > 0 else 0
            self.stream.write(f"\r[{'#' * filled}{'-' * (BAR - filled)}] {100 * filled // BAR:3d}% {text}\x1b[K")
            self.drawn = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

