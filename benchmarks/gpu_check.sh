#!/usr/bin/env bash
# The GPU check of bptt-bench (issue 15), for a Linux machine with an NVIDIA GPU and a CUDA 12
# driver. From the repository root:
#
#     bash benchmarks/gpu_check.sh [OUT]        # OUT defaults to results/gpu_check
#
# 1. installs the project with a CUDA build of PyTorch and JAX into .venv-gpu;
# 2. runs the agreement tests on 'cuda' (float64 <= 1e-10 against the CPU implementations,
#    float32 reported) -> OUT/agreement.txt;
# 3. runs config/gpu.yaml reduced to a few minutes (--config overrides below) -> OUT/tables,
#    OUT/figures, and OUT/cells with one JSON per cell (time, device memory, status).
# Everything it writes is under OUT; nothing else in the checkout changes.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-results/gpu_check}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"

if [ ! -x .venv-gpu/bin/python ]; then
    python3 -m venv .venv-gpu
    .venv-gpu/bin/pip install --quiet --upgrade pip
    # PyPI's Linux torch wheel of the pinned version is the CUDA build; JAX needs its CUDA plugin.
    .venv-gpu/bin/pip install --quiet -e ".[test]" "jax[cuda12]"
fi
export PATH="$PWD/.venv-gpu/bin:$PATH"
python - <<'PY' | tee -a "$OUT/gpu.txt"
import jax, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
print("jax", jax.__version__, "devices", jax.devices())
PY

# Agreement on the GPU: -s prints each measured error, -rs names every skip.
python -m pytest -m gpu -s -rs -q tests/test_device.py 2>&1 | tee "$OUT/agreement.txt"

# The GPU study, reduced (results go to OUT, not results/).
timeout -k 30 1500 snakemake --cores all --configfile config/gpu.yaml \
    --config results_dir="$OUT/study" 2>&1 | tail -n 40 | tee "$OUT/study.log"
echo "GPU check done: $OUT"
