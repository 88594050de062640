#!/usr/bin/env bash
# The GPU check of issue 12: on a machine with one CUDA GPU, run the GPU tests and the GPU benchmarks in
# about 8 minutes and write everything they print into one folder (the figures to commit into the README
# with the date and the GPU model). Not yet run on a GPU (none was lent when it was written): a step that
# fails records its output and exit status and the script goes on.
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

step gpu 20 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
step info 60 hpcmix info
step pytest-gpu 200 python -m pytest -m gpu -q -p no:cacheprovider tests/test_cupy_backend.py tests/test_dense_gpu.py
step dslash16 150 hpcmix bench dslash --size 16 --repeat 3 --backends numba,cupy --precisions double,single,half \
    --json "$out/dslash16.json"
step dense 90 hpcmix bench dense --sizes 4096 --repeats 3 --precisions fp32 fp16 bf16
echo "wrote $out:"; ls "$out"
