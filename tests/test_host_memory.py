"""Loading a backend keeps freed host memory for reuse (hpcmix.backends.host_memory): a large temporary freed and
allocated again is served from memory the process holds, not faulted in (and zeroed by the kernel) again; numpy's
huge-page advice is off; a user's own settings are left alone. Each probe runs in a fresh process (the settings
are per process and made once)."""

import os
import platform
import subprocess
import sys

import pytest

from hpcmix.backends.host_memory import MALLOC_VARIABLES

PROBE = """
import resource
import numpy as np
from hpcmix.backends import host_memory, load_backend
from hpcmix.registry import get_registry
load_backend(get_registry(), "numpy")
faults = []
for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.ones(2 ** 23)                      # 64 MiB, every page written
    del a
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(host_memory.huge_page_advice(), faults[0], sum(faults[1:]))
print(host_memory.describe())
"""


def _probe(env):
    """(numpy's huge-page advice, page faults of the first 64 MiB temporary, of the four after it, describe())."""
    full = {k: v for k, v in os.environ.items() if k not in MALLOC_VARIABLES + ("NUMPY_MADVISE_HUGEPAGE",)}
    full.update(env)
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=full, timeout=300)
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.splitlines()[:2]
    advice, once, again = first.split()
    return advice == "True", int(once), int(again), second


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_a_freed_temporary_serves_the_next_without_new_page_faults():
    advice, once, again, described = _probe({})
    assert not advice and "malloc freed blocks kept" in described, described
    assert once > 1000 and again < once / 10, (once, again)          # 4 KiB pages: ~16384 faults the first time
    # the control: with glibc's defaults restored by the user (and huge pages off, so that every page faults
    # alone), each 64 MiB temporary is a fresh mapping, faulted in again
    advice, once, again, described = _probe({"MALLOC_MMAP_MAX_": "65536", "NUMPY_MADVISE_HUGEPAGE": "0"})
    assert not advice and "left to MALLOC_MMAP_MAX_" in described and "NUMPY_MADVISE_HUGEPAGE=0" in described
    assert again > 3 * once > 3000, (once, again)


def test_a_users_huge_page_setting_is_kept():
    advice, _, _, described = _probe({"NUMPY_MADVISE_HUGEPAGE": "1"})
    assert advice and "left to NUMPY_MADVISE_HUGEPAGE=1" in described, described
