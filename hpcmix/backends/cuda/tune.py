"""Launch configurations tuned on first use and kept in a tune cache (QUDA's tunecache).

A kernel launch is keyed by the GPU model, the kernel (its generated variant: operator, storage kinds,
reconstruct, compute type) and the sites it covers. The first launch of a key times each candidate
number of threads per block (:data:`CANDIDATES`; in numba-cuda's simulator only its one shape) and keeps
the fastest (where there is one candidate, it); the answer is written to ``tunecache.json`` in the folder ``HPCMIX_TUNE_CACHE`` (default
``~/.cache/hpcmix/tune``), which later runs and the other ranks read, so they tune nothing already there.
Writers merge under a file lock and never replace an entry (the first answer stays, so every run of a
key launches alike).
"""

import fcntl
import json
import os
import time

#: threads per block tried (powers of two: the reductions halve the block)
CANDIDATES = (32, 64, 128, 256, 512)


def cache_folder():
    folder = os.environ.get("HPCMIX_TUNE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hpcmix", "tune")
    os.makedirs(folder, exist_ok=True)
    return folder


def _timings(kernel, candidates, run):
    """{threads: seconds per launch} of the candidates that launch (after a warm-up launch each, which also
    compiles)."""
    timings = {}
    for t in candidates:
        try:
            run(t)
        except Exception:                           # noqa: BLE001 - e.g. too many registers per block
            continue
        t0 = time.perf_counter()
        for _ in range(3):
            run(t)
        timings[t] = (time.perf_counter() - t0) / 3
    if not timings:
        raise RuntimeError(f"no launch configuration of {kernel} runs (tried {list(candidates)} threads)")
    return timings


class TuneCache:
    """The tuned threads per block of each launch key on the GPU model ``device_name``."""

    def __init__(self, device_name, folder=None):
        self.device = device_name
        self.path = os.path.join(folder or cache_folder(), "tunecache.json")
        self.entries = self._read()
        #: keys this process tuned (a run whose cache had them all tunes nothing)
        self.tuned = []

    def _read(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def key(self, kernel, sites):
        return f"{self.device} | {kernel} | {sites} sites"

    def threads(self, kernel, sites, candidates, run):
        """The threads per block for ``kernel`` on ``sites`` sites: the cached answer, else the candidate
        for which ``run(threads)`` (one complete launch, synchronized) takes least time, then cached."""
        key = self.key(kernel, sites)
        if key not in self.entries:
            timings = _timings(kernel, candidates, run) if len(candidates) > 1 else {candidates[0]: None}
            best = min(timings, key=lambda t: timings[t] or 0.0)
            self._write(key, {"threads": best, "seconds": timings[best]})
            self.tuned.append(key)
        return self.entries[key]["threads"]

    def _write(self, key, entry):
        """Add ``entry`` under ``key`` to the file (merged with what other processes wrote meanwhile)."""
        with open(self.path + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged = self._read()
            merged.setdefault(key, entry)
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                json.dump(merged, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        self.entries = merged
