"""The numpy reference backend: simple vectorized kernels, the oracle the others are tested against."""

import numpy as np

from . import reference
from .base import Backend


class NumpyBackend(Backend):
    name = "numpy"
    description = "numpy reference (vectorized, CPU)"
    kernels = reference.KERNELS

    @property
    def xp(self):
        return np

    def asarray(self, host_array):
        return np.asarray(host_array)
