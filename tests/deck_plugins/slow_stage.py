"""A deck-named plugin module for the tests: a stage that runs until it is interrupted."""

import os
import time
from pathlib import Path

from mpi4py import MPI

from hpcmix import hookimpl
from hpcmix.params import Param
from hpcmix.stages import Stage


class Stall(Stage):
    name = "stall"
    description = ("creates the file `ready` (after each rank wrote its process id into `<ready>.<rank>`), then "
                   "waits in collective calls for `seconds` (tests of signals and faults)")
    needs_lattice = False
    params = {"ready": Param(str, doc="file created once the stage runs"),
              "seconds": Param(float, 60.0, "how long the stage runs")}

    def run(self, ctx, cfg):
        comm = MPI.COMM_WORLD
        Path(f"{cfg['ready']}.{comm.rank}").write_text(str(os.getpid()))
        comm.Barrier()
        if comm.rank == 0:
            Path(cfg["ready"]).touch()
        end = time.monotonic() + cfg["seconds"]
        while comm.allreduce(time.monotonic() < end, op=MPI.LAND):
            if comm.rank != 0:
                time.sleep(0.05)     # rank 0 waits inside the collective call meanwhile


@hookimpl
def stages():
    return [Stall]
