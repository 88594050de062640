"""The rank's BLAS thread pool beside a multithreaded backend.

A backend that runs its own threads (numba: the rank's share of its node's cores) and a BLAS pool of the same
size (OpenBLAS's default: every core) oversubscribe the cores: the BLAS threads spin after each call while the
backend's threads want the cores, and the BLAS calls of the lattice code are small (dot products of coarse
fields, products per block). Measured 2026-12-02 on this project's 2-core machine, 16^4 Wilson kappa 0.157,
``hpcmix bench multigrid --size 16 --block 4 4 4 4 --nu-post 8 --kappas 0.157 ...``: the multigrid solve 11.4 s
with OpenBLAS's default pool against 4.7 s with one BLAS thread, double-half CG 4.8 s against 3.4 s.

So the numba backend sizes the pool to one thread per rank when it is loaded (:func:`beside_backend`), and the
dense LU, during which the backend's threads are idle, gets the rank's share of the cores back
(:func:`sized`). A pool the user sized (``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``BLIS_NUM_THREADS`` or
``OMP_NUM_THREADS`` set) is left alone. numpy's and scipy's BLAS are separate libraries in the wheels; both are
loaded first so that both are sized (through threadpoolctl).
"""

import os
from contextlib import contextmanager, nullcontext

#: Environment variables by which a user sizes the BLAS pool; where one is set, hpcmix does not touch it.
USER_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "OMP_NUM_THREADS")


def user_sized():
    """The variable by which the user sized the BLAS pool, or None."""
    return next((v for v in USER_VARIABLES if v in os.environ), None)


def _threadpoolctl():
    """threadpoolctl, with scipy's BLAS loaded beside numpy's (so that both are seen and sized)."""
    import scipy.linalg  # noqa: F401
    import threadpoolctl
    return threadpoolctl


def _limiter(threads):
    """threadpoolctl's limiter of every loaded BLAS (numpy's and scipy's) to ``threads`` (applied at once; a
    context manager that restores the previous sizes)."""
    return _threadpoolctl().threadpool_limits(limits=threads, user_api="blas")


_beside = False


def beside_backend():
    """One BLAS thread per rank from now on (once per process), unless the user sized the pool."""
    global _beside
    if not _beside and user_sized() is None:
        _limiter(1)
    _beside = True


@contextmanager
def sized(threads):
    """The BLAS pool at ``threads`` threads inside the block (the previous size after it), unless the user
    sized it or no backend changed it."""
    with (_limiter(threads) if _beside and user_sized() is None else nullcontext()):
        yield


def describe():
    """The BLAS pools' sizes and who set them, for a benchmark's header."""
    pools = ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in _threadpoolctl().threadpool_info()
                      if p["user_api"] == "blas")
    who = user_sized()
    return f"BLAS threads {pools or 'none'} ({f'{who}={os.environ[who]}' if who else 'hpcmix'})"
