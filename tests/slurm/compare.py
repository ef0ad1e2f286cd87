"""Compare the study run under SLURM with the same study run locally (tests/slurm/run.sh).

    python tests/slurm/compare.py WORK NODE

WORK holds the runs local/, slurm/ (smoke config) and local_fault/, slurm_fault/ (every
cell's time limit 1 µs); NODE is the SLURM node's name. Exits non-zero, naming what
differs, unless: the same benchmark rows with the same statuses and reasons (numbers
masked), every SLURM row from NODE and its timed cells never overlapping (each had the
node to itself); the same learning tables (wall-clock columns aside); the same figures;
every job run as a SLURM job (its log kept); and in the fault runs every cell a
`timeout` row on both sides.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bptt_bench import tables

KEY = ["impl", "cell", "method", "mode", "T", "k1", "k2", "segment", "B", "H", "D", "O", "dtype", "threads", "seed"]
WALL_CLOCK = {"wall_s"}  # learning tables: the only column that may differ between runs
problems: list[str] = []


def check(condition: bool, message: str) -> None:
    if not condition:
        problems.append(message)


def benchmark_rows(run: Path) -> pd.DataFrame:
    table = pd.read_csv(run / "results/tables/benchmarks.csv")
    check(list(table.columns) == tables.BENCHMARK_TABLE_COLUMNS, f"{run.name}: benchmark columns differ from the schema")
    table["reason_shape"] = table["reason"].fillna("").map(lambda reason: re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", reason))
    return table.set_index(KEY).sort_index()


def compare_benchmarks(local: Path, slurm: Path, node: str) -> pd.DataFrame:
    ours, theirs = benchmark_rows(local), benchmark_rows(slurm)
    check(ours.index.equals(theirs.index), f"benchmark rows differ: local {len(ours)}, SLURM {len(theirs)}")
    if ours.index.equals(theirs.index):
        differ = ours[["status", "reason_shape"]] != theirs[["status", "reason_shape"]]
        check(not differ.any(axis=None), f"statuses or reasons differ:\n{theirs[differ.any(axis=1)][['status', 'reason']]}")
    check(set(theirs["node"]) == {node}, f"SLURM rows' node {set(theirs['node'])} != {node}")
    return theirs


def check_no_overlap(rows: pd.DataFrame) -> None:
    """Each row ends at utc_time after cell_wall_s seconds of worker: on one node the intervals must be disjoint."""
    ran = rows[rows["status"] != "skipped"]
    end = pd.to_datetime(ran["utc_time"]).map(pd.Timestamp.timestamp).to_numpy()
    intervals = sorted(zip(end - ran["cell_wall_s"].to_numpy(), end))
    overlap = max((earlier[1] - later[0] for earlier, later in zip(intervals, intervals[1:])), default=0)
    check(overlap < 0.01, f"two timed SLURM jobs overlapped by {overlap:.3f} s: --exclusive not in force")


def compare_learning(local: Path, slurm: Path) -> None:
    for name in ("training", "gradient_bias", "gradient_decay"):
        ours, theirs = (pd.read_csv(run / f"results/tables/{name}.csv") for run in (local, slurm))
        columns = [c for c in getattr(tables, f"{name.upper()}_COLUMNS") if c not in WALL_CLOCK]
        check(list(theirs.columns) == getattr(tables, f"{name.upper()}_COLUMNS"), f"{name}: columns differ from the schema")
        if ours.shape != theirs.shape:
            check(False, f"{name}: local {ours.shape} rows x columns, SLURM {theirs.shape}")
            continue
        ours, theirs = (t[columns].sort_values(columns).reset_index(drop=True) for t in (ours, theirs))
        for column in columns:
            a, b = ours[column], theirs[column]
            if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
                same = np.allclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True)
            else:
                same = a.astype(str).equals(b.astype(str))
            check(same, f"{name}.{column} differs between the local and the SLURM run")


def compare_figures(local: Path, slurm: Path) -> None:
    ours, theirs = ({f.name for f in (run / "results/figures").iterdir()} for run in (local, slurm))
    check(ours == theirs, f"figures differ: only local {ours - theirs}, only SLURM {theirs - ours}")
    empty = [f.name for f in (slurm / "results/figures").iterdir() if f.stat().st_size < 1000]
    check(not empty, f"SLURM figures nearly empty: {empty}")
    check((slurm / "results/findings.html").is_file(), "SLURM run has no findings.html")


def check_ran_on_slurm(slurm: Path, rows: pd.DataFrame) -> None:
    """The plugin keeps one log per SLURM job (--slurm-keep-successful-logs): one per block of cells at least."""
    logs = list((slurm / ".snakemake/slurm_logs/rule_measure_block").rglob("*.log"))
    n_blocks = len(list((slurm / "results/cells").glob("*.json")))
    check(len(logs) >= n_blocks, f"{len(logs)} SLURM job logs of measure_block for {n_blocks} blocks ({len(rows)} cells)")


def main(work: Path, node: str) -> int:
    rows = compare_benchmarks(work / "local", work / "slurm", node)
    check(set(rows["status"]) <= {"ok", "skipped"}, f"SLURM statuses {rows['status'].value_counts().to_dict()}")
    check_no_overlap(rows)
    compare_learning(work / "local", work / "slurm")
    compare_figures(work / "local", work / "slurm")
    check_ran_on_slurm(work / "slurm", rows)
    fault = compare_benchmarks(work / "local_fault", work / "slurm_fault", node)
    check(len(fault) > 0 and (fault["status"] == "timeout").all(), f"fault run statuses {fault['status'].tolist()}")
    check_no_overlap(fault)
    print(f"smoke: {len(rows)} rows, statuses {rows['status'].value_counts().to_dict()}, node {node}")
    print(f"fault: {len(fault)} rows, e.g. {fault['status'].iloc[0]}: {fault['reason'].iloc[0]}")
    for problem in problems:
        print(f"!! {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
