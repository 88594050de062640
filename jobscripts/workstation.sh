#!/usr/bin/env bash
# One workstation, CPU only: the registry's MPICH from `pip install -e .` provides mpiexec.
# Usage: jobscripts/workstation.sh [NRANKS] [DECK]
set -euo pipefail
NRANKS=${1:-4}
DECK=${2:-inputs/quickstart.toml}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-1}
exec mpiexec -n "$NRANKS" hpcmix run "$DECK"
