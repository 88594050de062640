"""A deck-named plugin module for the tests: once imported (on every rank, after MPI started), no file the
process writes may grow past HPCMIX_TEST_FILE_LIMIT bytes (RLIMIT_FSIZE; writes beyond fail with EFBIG, as
on a full disk: Python ignores SIGXFSZ)."""

import os
import resource

limit = int(os.environ.get("HPCMIX_TEST_FILE_LIMIT", "262144"))
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
