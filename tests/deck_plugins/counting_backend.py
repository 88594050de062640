"""A deck-named plugin module for the tests: a backend added from outside the project. It brings its
own ``lincomb`` (every BLAS-1 update of the solvers; it announces its first call) and inherits every
other kernel from the numpy reference, without touching operators or solvers."""

import numpy as np

from hpcmix import hookimpl
from hpcmix.backends import Backend, reference


class CountingBackend(Backend):
    name = "counting"
    description = "the numpy reference kernels, with its own lincomb (tests)"

    def __init__(self, local_rank=0):
        super().__init__(local_rank)
        self.calls = 0
        self.kernels = {"lincomb": self.lincomb}

    @property
    def xp(self):
        return np

    def lincomb(self, *args, **kw):
        if self.calls == 0:
            print("counting backend: lincomb runs here", flush=True)
        self.calls += 1
        return reference.lincomb(*args, **kw)


@hookimpl
def backends():
    return [CountingBackend]
