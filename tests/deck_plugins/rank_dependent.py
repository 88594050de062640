"""A deck-named plugin module for the tests: registers a differently named source on each rank,
as a plugin installed on some nodes only would."""

from mpi4py import MPI

from hpcmix import hookimpl
from hpcmix.sources.point import PointSource


@hookimpl
def sources():
    return [type(f"Rank{MPI.COMM_WORLD.rank}Source", (PointSource,), {"name": f"point_rank{MPI.COMM_WORLD.rank}"})]
