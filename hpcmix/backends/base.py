"""The backend interface.

Generic code (operators, solvers) is written once against ``backend.xp`` (the array namespace);
the hot kernels are looked up by name with :meth:`Backend.kernel`, so a backend overrides any of
them with a faster one and falls back to the generic implementation for the rest. A backend that
cannot load (no GPU, no numba) says so when asked for, never on import.
"""

from contextlib import nullcontext

import numpy as np

from ..errors import HpcmixError
from . import host_memory


class BackendUnavailable(HpcmixError):
    """The deck's backend cannot run here (what it needs is missing): an input error, exit 2."""

    exit_code = 2


class Backend:
    name = ""
    description = ""
    kernels = {}  # name -> callable overriding a generic kernel
    device_memory = False  # True where its fields live in a GPU's memory (hpcmix.memory's GPU column)

    @classmethod
    def check_available(cls):
        """Raise BackendUnavailable with the reason where this backend cannot run here."""

    @classmethod
    def available(cls):
        try:
            cls.check_available()
            return True, ""
        except BackendUnavailable as exc:
            return False, str(exc)

    def __init__(self, local_rank=0):
        self.check_available()
        self.local_rank = local_rank

    @property
    def threads(self):
        """CPU threads each kernel call runs on (what a rank occupies of its node's cores)."""
        return 1

    def share_cores(self, ranks, cores):
        """Take this rank's share of the node's ``cores`` with ``ranks`` ranks on it, unless the user set the
        threads (a multithreaded backend overrides this)."""

    @property
    def xp(self):
        raise NotImplementedError

    def asarray(self, host_array):
        """Move a host (numpy) array to this backend."""
        return self.xp.asarray(host_array)

    def to_host(self, array):
        return array

    def empty(self, shape, dtype):
        """An uninitialized array of this backend."""
        return self.xp.empty(shape, dtype)

    def synchronize(self):
        """Wait for the work queued on this backend (a GPU's kernels run asynchronously; timers need this)."""

    def table(self, host_array):
        """A constant host array (neighbour table, rows, coefficients) as this backend's kernels read it,
        copied once per backend (host backends read it where it is)."""
        return host_array

    # ---- halo traffic (:class:`hpcmix.fields.halo.Halo`) ------------------------------------------------
    #: where halos travel from (``hpcmix info``)
    halo_path = "host memory"

    def halo_context(self):
        """The context halo packing and unpacking run in (a GPU backend's halo stream)."""
        return nullcontext()

    def outgoing(self, array):
        """``array`` as MPI sends it: contiguous, in memory MPI reads, complete."""
        return np.ascontiguousarray(array)

    def incoming(self, shape, dtype):
        """An empty buffer MPI receives into."""
        return np.empty(shape, dtype)

    def arrived(self, buffer):
        """A received buffer as this backend's array."""
        return buffer

    def kernel(self, name):
        """The backend's kernel ``name`` (a backend without its own falls back to the numpy reference,
        :mod:`hpcmix.backends.reference`)."""
        from .reference import KERNELS
        fn = self.kernels.get(name) or KERNELS.get(name)
        if fn is None:
            raise KeyError(f"no kernel '{name}' on backend '{self.name}' nor in the reference")
        return fn

    def dense_kernels(self):
        """The kernels of the dense blocked LU (:func:`hpcmix.dense.lu.blocked_lu`) on this backend: the host
        kernels (NumPy, LAPACK, BLAS) here; a device backend returns kernels on its own arrays."""
        from ..dense.lu import HostKernels
        return HostKernels()


def load_backend(registry, name, local_rank=0):
    """Instantiate the registered backend ``name``; an unknown or unavailable one is an error. Loading one keeps
    freed host memory for reuse from then on (:mod:`.host_memory`)."""
    host_memory.keep_freed_memory()
    cls = registry.lookup("backends", name)
    try:
        return cls(local_rank=local_rank)
    except BackendUnavailable as exc:
        raise BackendUnavailable(f"backend '{name}' is not available: {exc}", collective=True) from None
