#!/usr/bin/env bash
# The GPU check of bptt-bench (issue 15), for a Linux machine with an NVIDIA GPU and a CUDA 12
# driver. From the repository root:
#
#     bash benchmarks/gpu_check.sh [OUT]        # OUT defaults to results/gpu_check
#
# 1. installs the project with a CUDA build of PyTorch and JAX into .venv-gpu, or, with
#    GPU_PYTHON=python3 (say), uses that interpreter's own CUDA builds and this checkout as it is;
#    without a network there, benchmarks/offline_wheels.sh gathers the rest as wheels;
# 2. runs the agreement tests on 'cuda' (float64 <= 1e-10 against the CPU implementations,
#    float32 reported) -> OUT/agreement.txt;
# 3. runs config/gpu_check.yaml (config/gpu.yaml reduced to a few minutes) with OUT/study as
#    Snakemake's working directory -> OUT/study/results/{tables,figures,cells,machine}:
#    benchmarks.csv with time, device memory and status per cell, the figures (GPU rows in
#    their own '<impl> on cuda' panels) and benchmarks_summary.json with cudnn_speedup.
# Everything it writes is under OUT; nothing else in the checkout changes. To redo part of a check
# within a short lease: GPU_CHECK_TESTS (a pytest -k expression), GPU_CHECK_CONFIG (another config),
# GPU_CHECK_SNAKEMAKE_ARGS (e.g. "--rerun-triggers params code input": keep cells already in OUT/study).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-results/gpu_check}"
mkdir -p "$OUT"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "nvidia-smi: none here (no NVIDIA driver)"; } | tee "$OUT/gpu.txt"

if [ -n "${GPU_PYTHON:-}" ]; then
    # An environment that already has CUDA builds of PyTorch and JAX (a GPU node's image, a
    # module): use it as it is, with this checkout on the import path instead of installing it.
    PYTHON="$(command -v "$GPU_PYTHON")"
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    if [ ! -x .venv-gpu/bin/python ]; then
        python3 -m venv .venv-gpu
        .venv-gpu/bin/pip install --quiet --upgrade pip
        # PyPI's Linux torch wheel of the pinned version is the CUDA build; JAX needs its CUDA plugin.
        .venv-gpu/bin/pip install --quiet -e ".[test]" "jax[cuda12]"
    fi
    PYTHON="$PWD/.venv-gpu/bin/python"
fi
# One process at a time uses the GPU, so JAX may take what it needs instead of 75 % up front.
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"
"$PYTHON" - <<'PY' | tee -a "$OUT/gpu.txt"
import jax, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
print("jax", jax.__version__, "devices", jax.devices())
PY

# Agreement on the GPU: -s prints each measured error, -rs names every skip.
# A failure is reported in the file and the study still runs.
"$PYTHON" -m pytest -n 0 -p no:cacheprovider -m gpu -s -rs -q ${GPU_CHECK_TESTS:+-k "$GPU_CHECK_TESTS"} tests/test_device.py 2>&1 | tee "$OUT/agreement.txt" ||
    echo "AGREEMENT TESTS FAILED: see $OUT/agreement.txt" | tee -a "$OUT/gpu.txt"

# The GPU study, reduced. --directory puts results/, logs/ and .snakemake/ under OUT/study;
# the checkout's own results/ are not touched.
STUDY="$(realpath -m "$OUT/study")"
timeout -k 30 "${STUDY_TIMEOUT_S:-1500}" "$PYTHON" -m snakemake --cores all --snakefile "$PWD/Snakefile" --directory "$STUDY" ${GPU_CHECK_SNAKEMAKE_ARGS:-} \
    --configfile "$(realpath "${GPU_CHECK_CONFIG:-config/gpu_check.yaml}")" --workflow-profile "$PWD/workflow/profiles/default" \
    results/tables/benchmarks.csv results/figures/time_vs_T.png > "$OUT/study.log" 2>&1 ||
    { tail -n 40 "$OUT/study.log"; echo "STUDY FAILED: see $OUT/study.log"; exit 1; }
"$PYTHON" - "$STUDY/results" <<'PY' | tee "$OUT/gpu_table.txt"
import json, sys
from pathlib import Path

import pandas as pd

results = Path(sys.argv[1])
table = pd.read_csv(results / "tables/benchmarks.csv")
columns = ["impl", "device", "method", "T", "k1", "segment", "status", "time_median_s", "framework_peak_bytes",
           "analytic_activation_bytes", "peak_fraction", "reason"]
with pd.option_context("display.width", 250, "display.max_colwidth", 60, "display.max_rows", 200):
    print(table[table["H"] == 1024][columns].to_string(index=False))
for peak in sorted((results / "machine").glob("peak_*.json")):
    record = json.loads(peak.read_text())
    print(peak.name, record["peak_gflops_per_s"], "GFLOP/s by", record["peak_impl"])
speedup = json.loads((results / "figures/benchmarks_summary.json").read_text()).get("cudnn_speedup", [])
for row in speedup:
    print(f"cuDNN (torch_nn) vs step loop (torch): {row['method']} T={row['T']}: {row['speedup']:.3g}x")
PY
echo "GPU check done: $OUT"
