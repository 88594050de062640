"""A deck-named plugin module for the tests: a stage that fails on one rank only."""

from mpi4py import MPI

from hpcmix import hookimpl
from hpcmix.params import Param
from hpcmix.stages import Stage


class FailOnRank(Stage):
    name = "fail_on_rank"
    description = "raises an ordinary exception on one rank (tests that no rank is left waiting)"
    params = {"rank": Param(int, 1, "the rank that fails")}

    def run(self, ctx, cfg):
        if MPI.COMM_WORLD.rank == cfg["rank"]:
            raise RuntimeError("simulated failure")


@hookimpl
def stages():
    return [FailOnRank]
