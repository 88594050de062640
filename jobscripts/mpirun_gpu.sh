#!/usr/bin/env bash
# mpirun / mpiexec on GPU nodes (Open MPI or MPICH/Hydra): one rank per GPU, bound by node-local rank.
# Usage: jobscripts/mpirun_gpu.sh NRANKS DECK [hostfile]
set -euo pipefail
NRANKS=${1:-4}
DECK=${2:-inputs/quickstart.toml}
HOSTS=${3:-}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-$OMP_NUM_THREADS}   # numba kernels: threads per rank
hostopt=()
[ -n "$HOSTS" ] && hostopt=(-f "$HOSTS")
# OMPI_COMM_WORLD_LOCAL_RANK (Open MPI) or MPI_LOCALRANKID (MPICH/Hydra) is the node-local rank.
exec mpiexec "${hostopt[@]}" -n "$NRANKS" bash -c \
    'export CUDA_VISIBLE_DEVICES=${OMPI_COMM_WORLD_LOCAL_RANK:-${MPI_LOCALRANKID:-0}}; exec hpcmix run "$0"' "$DECK"
