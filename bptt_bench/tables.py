"""Fixed schemas of the study's tables, and writing files atomically.

A row is a flat dict; a table is a pandas concatenation of rows with exactly these
columns, in this order. Figures read tables only.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import implementations

if TYPE_CHECKING:
    import pandas as pd

# One version column per framework package of the registry (numpy_version, torch_version, ...).
PROVENANCE_COLUMNS = [
    "python_version", *(f"{package}_version" for package in implementations.PACKAGES), "blas", "environment",
    "cpu_model", "node", "commit", "utc_time",
]

BENCHMARK_COLUMNS = [
    "impl", "cell", "method", "mode", "T", "k1", "k2", "segment", "B", "H", "D", "O", "dtype", "threads", "device",
    "seed", "status", "reason", "n_repeats", "time_median_s", "time_iqr_s", "time_min_s", "n_outliers",
    "time_total_s", "cpu_s", "cpu_per_wall", "cpu_over_threads", "compile_s",
    "import_s", "setup_s", "cell_wall_s", "peak_rss_bytes", "framework_peak_bytes", "analytic_activation_bytes", "flops",
    "gflops_per_s", "peak_gflops_per_s", "impl_gemm_gflops_per_s", "peak_fraction", "loss", "grad_norm",
] + PROVENANCE_COLUMNS

# The benchmark table: each cell's row with the grid(s) of the config it belongs to, comma-joined
# (a cell in two grids is measured once); bptt_bench.analysis.benchmarks.in_grid selects a grid.
BENCHMARK_TABLE_COLUMNS = ["grid"] + BENCHMARK_COLUMNS

STATUSES = ("ok", "timeout", "oom", "killed", "nan", "error", "skipped")  # docs/measurement.md, Faults


def write_atomically(path: Path | str, write) -> Path:
    """Call write(tmp_path), then rename onto path: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # mode 0666 less the umask, like open()
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path, record: dict) -> Path:
    return write_atomically(path, lambda tmp: tmp.write_text(json.dumps(record, indent=2, default=str) + "\n"))


def write_table(table: pd.DataFrame, path) -> Path:
    """CSV or Parquet by suffix, atomically."""
    path = Path(path)
    if path.suffix == ".parquet":
        return write_atomically(path, lambda tmp: table.to_parquet(tmp, index=False))
    return write_atomically(path, lambda tmp: table.to_csv(tmp, index=False))


def read_block(path) -> dict[str, dict]:
    """A block file's rows, keyed by cell id; ValueError naming the file and the remedy if it is
    not one (never a bare JSON error)."""
    try:
        rows = json.loads(Path(path).read_text())
        if not isinstance(rows, dict) or not rows:
            raise ValueError("not a non-empty object of cell rows")
        for cell, row in rows.items():
            missing = set(BENCHMARK_COLUMNS) - set(row)
            if missing:
                raise ValueError(f"{cell}: columns {sorted(missing)} missing")
    except (ValueError, AttributeError, TypeError) as error:
        raise ValueError(f"{path} is not a block of cell rows ({type(error).__name__}: {error}). Delete it and "
                         "rerun snakemake: its cells are measured again and the tables rebuilt.") from None
    return rows


def rows_to_table(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """Rows -> DataFrame with exactly `columns`; a missing or extra key is an error."""
    for row in rows:
        if set(row) != set(columns):
            raise ValueError(f"row keys differ from the schema: missing {set(columns) - set(row)}, extra {set(row) - set(columns)}")
    import pandas as pd  # here, not above: the measuring processes import this module and never build a table

    return pd.DataFrame(rows, columns=columns)


# Experiment tables (bptt_bench.experiments). Training: empty k1/k2 mean full BPTT, empty clip no
# clipping; baseline_loss and chance_accuracy are the task's memoryless baseline (tasks.TaskInfo).
TRAINING_COLUMNS = [
    "impl", "task", "cell", "forget_bias", "method", "k1", "k2", "seed", "update", "sequences_seen", "wall_s", "loss", "accuracy",
    "lag", "T", "B", "H", "D", "O", "dtype", "lr", "clip", "status", "baseline_loss", "chance_accuracy",
]

# Learnable lag (experiments/learnable_lag.py, docs/experiments.md): one row per run and evaluation
# point; a run is (cell, regime, method, k1, k2, lag, seed, lr); wall_s is the batched program's training
# seconds for all runs of its (cell, regime, setting) together; lr_chosen marks the validation choice;
# forget_bias is the LSTM's initial forget-gate bias (0 for the other cells).
LEARNABLE_LAG_COLUMNS = [
    "cell", "forget_bias", "regime", "method", "k1", "k2", "lag", "seed", "lr", "lr_chosen", "sequences_seen", "update", "wall_s",
    "val_loss", "val_accuracy", "test_loss", "test_accuracy", "status", "T", "V", "B", "H", "dtype", "clip",
    "n_eval", "chance_accuracy", "baseline_loss",
]

GRADIENT_BIAS_COLUMNS = [
    "impl", "task", "cell", "forget_bias", "state", "sequences_seen", "k1", "k2", "batch", "cosine", "relative_error",
    "bptt_grad_norm", "tbptt_grad_norm", "lag", "T", "B", "H", "seed", "dtype",
]

GRADIENT_DECAY_COLUMNS = ["radius", "seed", "k", "grad_norm", "T", "H", "B", "dtype"]
