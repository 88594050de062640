#!/usr/bin/env bash
# The GPU check of issue 12: on a machine with one CUDA GPU, run the GPU tests and the GPU benchmarks in
# about 8 minutes and write everything they print into one folder (the figures to commit into the README
# with the date and the GPU model). Not yet run on a GPU (none was lent when it was written): a step that
# fails records its output and exit status and the script goes on. The numba CPU solve the GPU is compared
# with runs on the host's cores meanwhile (it needs no GPU).
#
#   pip install -e ".[test,cuda12]" && benchmarks/gpu_check.sh [FOLDER]     (default: $OUT, else gpu-check-DATE)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-gpu-check-$(date +%F)}}"
mkdir -p "$out"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

step() {       # step NAME SECONDS COMMAND...: run it with a time limit, output and exit status into NAME.txt
    local name=$1 limit=$2
    shift 2
    { date; echo "\$ $*"; } > "$out/$name.txt"
    timeout "$limit" "$@" >> "$out/$name.txt" 2>&1
    echo "exit status $?" >> "$out/$name.txt"
}

export HPCMIX_TUNE_CACHE="${HPCMIX_TUNE_CACHE:-$out/tune}"       # a fresh tune cache: the first run tunes
cpus=$(nproc)
# issue 12: double-half CG on l8888 tiled to 32^4 (kappa 0.155, tol 1e-10) on the numba CPU backend, all cores
step cg32-numba 420 env NUMBA_NUM_THREADS=$((cpus > 2 ? cpus - 2 : 1)) hpcmix bench mixed --backend numba \
    --size 32 --kappa 0.155 --precisions half --reconstruct-sloppy 12 --repeats 1 &
cpu_step=$!
step gpu 20 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
step info 30 hpcmix info
# the GPU kernels against numpy, and every backend-parametrized operator/solver test with backend cupy
step pytest-gpu 120 python -m pytest -q -p no:cacheprovider -k "(cupy or gpu) and not simulator" tests/test_cupy_backend.py \
    tests/test_dense_gpu.py tests/test_backend_kernels.py tests/test_backend_solvers.py tests/test_wilson_fields.py \
    tests/test_staggered_fields.py tests/test_full_fields.py tests/test_field_block.py tests/test_deflate.py
step halo2 40 mpiexec -n 2 python -m pytest --with-mpi -q -p no:cacheprovider -m gpu tests/mpi/test_cupy_halo.py
# issue 12: Wilson single reconstruct 12 >= 0.6 of the HBM copy bandwidth, half >= 1.6x single
step dslash32 80 hpcmix bench dslash --size 32 --repeat 3 --backends cupy --precisions single,half --no-csr \
    --json "$out/dslash32.json"
step dslash32-again 40 hpcmix bench dslash --size 32 --repeat 1 --backends cupy --precisions single,half --no-csr \
    --json "$out/dslash32-again.json"                                # a second run tunes nothing
# issue 12: double-half CG >= 2x double and >= 20x the numba CPU backend's (cg32-numba)
step cg32 80 hpcmix bench mixed --backend cupy --size 32 --kappa 0.155 --precisions half --reconstruct-sloppy 12 \
    --repeats 1
step dense 100 env OMP_NUM_THREADS="$cpus" OPENBLAS_NUM_THREADS="$cpus" hpcmix bench dense --backend cupy \
    --sizes 32768 --repeats 1 --precisions fp16 bf16 --refinements gmres   # issue 12: >= 2.5x cupy's float64 solve
wait "$cpu_step"
echo "wrote $out:"; ls "$out"
