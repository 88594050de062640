"""The backend interface.

Generic code (operators, solvers) is written once against ``backend.xp`` (the array namespace);
the hot kernels are looked up by name with :meth:`Backend.kernel`, so a backend overrides any of
them with a faster one and falls back to the generic implementation for the rest. A backend that
cannot load (no GPU, no numba) says so when asked for, never on import.
"""

from ..errors import HpcmixError


class BackendUnavailable(HpcmixError):
    """The deck's backend cannot run here (what it needs is missing): an input error, exit 2."""

    exit_code = 2


class Backend:
    name = ""
    description = ""
    kernels = {}  # name -> callable overriding a generic kernel

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

    def kernel(self, name):
        """The backend's kernel ``name`` (a backend without its own falls back to the numpy reference,
        :mod:`hpcmix.backends.reference`)."""
        from .reference import KERNELS
        fn = self.kernels.get(name) or KERNELS.get(name)
        if fn is None:
            raise KeyError(f"no kernel '{name}' on backend '{self.name}' nor in the reference")
        return fn


def load_backend(registry, name, local_rank=0):
    """Instantiate the registered backend ``name``; an unknown or unavailable one is an error."""
    cls = registry.lookup("backends", name)
    try:
        return cls(local_rank=local_rank)
    except BackendUnavailable as exc:
        raise BackendUnavailable(f"backend '{name}' is not available: {exc}", collective=True) from None
