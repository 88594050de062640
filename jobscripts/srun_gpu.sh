#!/usr/bin/env bash
# Slurm: one MPI rank per GPU. hpcmix picks the GPU of each rank from its node-local rank
# (MPI_COMM_TYPE_SHARED), so every rank may see all GPUs of its node; on sites that prefer
# isolation, the wrapper below also restricts each rank to its own GPU.
#SBATCH --job-name=hpcmix
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --time=01:00:00
set -euo pipefail
DECK=${1:-inputs/quickstart.toml}
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-$OMP_NUM_THREADS}   # numba kernels: threads per rank
# Use the cluster's MPI: build mpi4py against it once (pip install --no-binary=mpi4py mpi4py) and
# do not install the mpich wheel in that environment.
srun --cpu-bind=cores --gpu-bind=none \
    bash -c 'export CUDA_VISIBLE_DEVICES=${SLURM_LOCALID}; exec hpcmix run "$0"' "$DECK"
