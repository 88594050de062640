"""Ending a command on SIGTERM (what Slurm sends at the time limit) or SIGINT (Ctrl-C).

Inside :func:`handled`, the first of these signals raises :class:`~hpcmix.errors.Interrupted` in the
main thread (later ones are ignored): the stages unwind, the results file is kept as the partial file
and temporary files are removed on the way, and :meth:`Signals.end` prints one message naming the partial file;
the command exits with 128 + the signal number (under MPI it ends the whole job, as other ranks may be
waiting in a collective call).

A main thread that cannot get back to Python (waiting in an MPI call for a rank that has stopped, or in a
long compiled kernel) never sees the exception, so a watcher thread, woken through
:func:`signal.set_wakeup_fd`, ends the process itself after :data:`GRACE_S` seconds: it keeps the partial
results, removes the temporary files, prints the message and exits. Ranks other than 0 wait
:data:`OTHERS_GRACE_S` instead, so that rank 0, which holds the results file, ends the job.
"""

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

from .errors import Interrupted
from .io.atomic import remove_temporaries
from .io.results import abandon_all

SIGNALS = (signal.SIGTERM, signal.SIGINT)
GRACE_S = 2.0
OTHERS_GRACE_S = 6.0


class Signals:
    """The signal handling of one command (see the module doc); :func:`handled` installs it."""

    def __init__(self, comm, abort):
        self.comm, self.abort = comm, abort
        self.signalled = self.active = False
        self.ending = threading.Lock()      # held by whichever thread ends the process

    def _raise(self, signum, frame):
        if not self.signalled:
            self.signalled = True
            raise Interrupted(signum)

    def _watch(self, fd):
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while (data := pipe.read(1)) and data[0] not in SIGNALS:
                pass
        if data:
            time.sleep(GRACE_S if self.comm.rank == 0 else OTHERS_GRACE_S)
            if self.active and self.ending.acquire(blocking=False):
                code = self._finish(Interrupted(data[0]))
                if self.comm.size > 1:
                    self.abort(self.comm, code)
                os._exit(code)

    def end(self, exc):
        """Finish the interrupt ``exc`` in the main thread (unless the watcher does): keep the partial
        results, remove temporary files, print the message (rank 0); returns the exit code."""
        self.ending.acquire()
        if self.comm.rank != 0 and self.comm.size > 1:
            time.sleep(OTHERS_GRACE_S)      # rank 0 ends the job with the message
        return self._finish(exc)

    def _finish(self, exc):
        partial = exc.partial or next(iter(abandon_all()), None)
        remove_temporaries()
        kept = f"; partial results kept in {partial}" if partial is not None else ""
        who = "" if self.comm.rank == 0 else f" on rank {self.comm.rank}"    # rank 0 got no signal
        print(f"hpcmix: error{who}: {exc.where}{exc}{kept}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        return exc.exit_code


@contextmanager
def handled(comm, abort):
    """SIGTERM and SIGINT raise Interrupted in the block, which gets the :class:`Signals`;
    ``abort(comm, code)`` ends an MPI job that the watcher thread must end. Outside the main thread
    (no signals there) the block runs as it is."""
    signals = Signals(comm, abort)
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    read, write = os.pipe()
    os.set_blocking(write, False)
    old = {s: signal.signal(s, signals._raise) for s in SIGNALS}
    old_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    signals.active = True
    threading.Thread(target=signals._watch, args=(read,), daemon=True, name="hpcmix-signals").start()
    try:
        yield signals
    finally:
        signals.active = False
        signal.set_wakeup_fd(old_fd)
        for s, handler in old.items():
            signal.signal(s, handler)
        os.close(write)
