"""What the benchmark table (`tables.BENCHMARK_COLUMNS`) says, as small functions over its rows.

A table holds one configuration (B, H, D, O, dtype, threads); select one before calling.
Blocks of the grid come from the rows' `grid` column (the config grid a cell came from)
when the table has it; older tables without it get them inferred:

- the *scaling block*: every setting measured at >= 2 distinct T;
- the *truncation block*: the T with the most distinct TBPTT (k1, k2) pairs.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from bptt_bench.analysis import settings

CELL = ["impl", "method", "T", "k1", "k2"]  # plus "cell" (rnn, lstm, gru) in tables that have it
CONFIG = ["B", "H", "D", "O", "dtype", "threads"]
SHARED_MEMORY = "peak_rss_bytes"  # measured the same way in every framework: the axis frameworks share
NATIVE_MEMORY = "framework_peak_bytes"  # each framework's own bookkeeping: compare within a framework only
MODEL_MEMORY = "analytic_activation_bytes"
CPU_PER_WALL_LIMIT = 1.15  # a 1-thread cell above this used more than one core
SCALING, TRUNCATION = "scaling", "truncation"  # the grid names the figures draw
CELLS_GRID = "cells"  # the gated cells at the scaling grid's T: drawn with the scaling block


class NothingToDraw(ValueError):
    """The table holds no cells of the block a figure draws (a study without a truncation grid, say)."""


def cells(table: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (impl, method, T, k1, k2), with columns `setting` (label) and `ok`.

    A cell listed twice keeps an ok row over a failed one; its `grid` names are joined.
    """
    if table.empty:
        raise NothingToDraw("the benchmark table has no rows")
    configs = table[CONFIG].drop_duplicates()
    if len(configs) > 1:
        raise ValueError(f"expected one configuration {CONFIG} per table, got {len(configs)}")
    key = CELL + [column for column in ("cell", "segment") if column in table]  # segment: checkpointed c
    rows = settings.labelled(table).assign(ok=table["status"].eq("ok").to_numpy())
    if "grid" in rows:
        names = rows.groupby(key, dropna=False)["grid"].transform(
            lambda g: ",".join(sorted({n for names in g.dropna() for n in names.split(",") if n}))
        )
        rows = rows.assign(grid=names)
    rows = rows.sort_values("ok", ascending=False, kind="stable").drop_duplicates(key)
    return rows.reset_index(drop=True)


def in_grid(rows: pd.DataFrame, name: str) -> pd.Series:
    """Whether each row came from the config grid `name` (a `grid` value may list several, comma-separated)."""
    return rows["grid"].fillna("").map(lambda names: name in re.split(r"[,;|\s]+", names))


def _sqrt_relabelled(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with checkpointed BPTT at c = ceil(sqrt(T)) labelled settings.SQRT_SEGMENT (one setting across T)."""
    if rows.empty:
        return rows
    fields = {name: rows[name] if name in rows else [None] * len(rows) for name in settings.FIELDS}
    names = [settings.scaling_label(T, *f) for T, *f in zip(rows["T"], *fields.values())]
    return rows.assign(setting=names)


def scaling_block(table: pd.DataFrame) -> pd.DataFrame:
    """Cells of the scaling grid and the gated cells' grid, plus checkpointed BPTT at c = ceil(sqrt(T)) at
    the scaling grid's T (labelled settings.SQRT_SEGMENT); without a grid named `scaling` (an older table,
    or a study such as config/gpu.yaml that names its grids otherwise), the settings measured at >= 2 T."""
    rows = _sqrt_relabelled(cells(table))
    if "grid" in rows and in_grid(rows, SCALING).any():
        scaling = in_grid(rows, SCALING)
        sqrt = (rows["setting"].str.contains(settings.SQRT_SEGMENT, regex=False)
                & rows["T"].isin(set(rows.loc[scaling, "T"])))
        rows = rows[scaling | in_grid(rows, CELLS_GRID) | sqrt]
    else:
        n_T = rows.groupby("setting")["T"].nunique()
        rows = rows[rows["setting"].isin(n_T.index[n_T >= 2])]
    if rows.empty:
        raise NothingToDraw("no setting (method, k1, k2) was measured at two or more values of T")
    return rows


def truncation_block(table: pd.DataFrame) -> tuple[int, pd.DataFrame]:
    """(T, the k1 x k2 grid's TBPTT cells at T plus every BPTT cell at T).

    Without a `grid` column: the T with the most TBPTT (k1, k2) pairs, keeping a k1 (k2)
    paired with more than half as many k2 (k1) as the fullest one (this drops scaling
    settings that share the T, e.g. (32, 8) beside a {4, 16, 64}^2 grid), and frameworks
    with a single pair there.
    """
    rows = cells(table)
    tbptt = rows[rows["method"] == "tbptt"]
    if "grid" in rows:
        tbptt = tbptt[in_grid(tbptt, TRUNCATION)]
    if tbptt.empty:
        raise NothingToDraw("no TBPTT cells of a truncation grid in the table")
    T = tbptt.drop_duplicates(["T", "k1", "k2"])["T"].value_counts().sort_index().idxmax()
    tbptt = tbptt[tbptt["T"] == T]
    if "grid" not in rows:
        pairs = tbptt.drop_duplicates(["k1", "k2"])
        for k in ("k1", "k2"):
            counts = pairs[k].value_counts()
            tbptt = tbptt[tbptt[k].isin(counts.index[counts > counts.max() / 2])]
        per_impl = tbptt.groupby("impl")["setting"].nunique()
        tbptt = tbptt[tbptt["impl"].isin(per_impl.index[per_impl > 1])]  # a lone shared cell is not the grid
    bptt = rows[(rows["method"] == "bptt") & (rows["T"] == T) & rows["impl"].isin(set(tbptt["impl"]))]
    if "cell" in rows:  # the grid's own cell: BPTT of another cell at the same T is not its reference
        bptt = bptt[bptt["cell"].isin(set(tbptt["cell"]))]
    return int(T), pd.concat([tbptt, bptt])


def not_ok(rows: pd.DataFrame) -> pd.DataFrame:
    """The cells that are not ok: impl, setting, T, status, reason, in framework then setting order."""
    failed = rows[~rows["ok"]]
    order = {s: i for i, s in enumerate(settings.table_order(rows))}
    return (
        failed.assign(_o=failed["setting"].map(order))
        .sort_values(["impl", "_o", "T"])[["impl", "setting", "T", "status", "reason"]]
        .reset_index(drop=True)
    )


def status_counts(rows: pd.DataFrame) -> dict[str, int]:
    """{status: number of cells} over the cells that are not ok."""
    return {str(s): int(n) for s, n in rows.loc[~rows["ok"], "status"].value_counts().sort_index().items()}


def times_at_largest_T(rows: pd.DataFrame) -> pd.DataFrame:
    """Median time per sequence (s) at the largest T with an ok cell: every setting x impl of the rows,
    NaN where that cell is not ok or was not run."""
    ok = rows[rows["ok"]]
    at_T = ok[ok["T"] == ok["T"].max()]
    table = at_T.pivot(index="setting", columns="impl", values="time_median_s")
    return table.reindex(index=settings.table_order(rows), columns=sorted(set(rows["impl"])))


def growth(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per (setting, impl): value at the largest T / value at the smallest T, over the rows with a value.

    Columns: setting, impl, T_low, T_high, low, high, ratio.
    """
    records = []
    for (setting, impl), line in rows.dropna(subset=[column]).groupby(["setting", "impl"], sort=False):
        line = line.sort_values("T")
        low, high = line.iloc[0], line.iloc[-1]
        records.append(
            dict(
                setting=setting,
                impl=impl,
                T_low=int(low["T"]),
                T_high=int(high["T"]),
                low=float(low[column]),
                high=float(high[column]),
                ratio=float(high[column] / low[column]),
            )
        )
    return pd.DataFrame(records, columns=["setting", "impl", "T_low", "T_high", "low", "high", "ratio"])


def memory_growth(rows: pd.DataFrame) -> pd.DataFrame:
    """BPTT's memory from the smallest to the largest T of its ok cells, per setting (one per
    recurrent cell), framework and measure.

    Columns: setting, impl, measure (SHARED_MEMORY, NATIVE_MEMORY or MODEL_MEMORY), T_low, T_high, low, high,
    ratio (bytes).
    The model's span is taken over the same T as the measured one.
    """
    bptt = rows[(rows["method"] == "bptt") & rows["ok"]]
    parts = []
    for measure in (SHARED_MEMORY, NATIVE_MEMORY, MODEL_MEMORY):
        parts.append(growth(bptt[bptt[measure] > 0], measure).assign(measure=measure))
    table = pd.concat(parts, ignore_index=True)
    table = table[table["T_high"] > table["T_low"]]  # a setting measured at one T has no growth
    return table[["setting", "impl", "measure", "T_low", "T_high", "low", "high", "ratio"]].reset_index(drop=True)


def flat_spread(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per TBPTT (setting, impl) with ok cells: largest / smallest value of `column` across T, minus 1."""
    tbptt = rows[(rows["method"] == "tbptt") & rows["ok"] & (rows[column] > 0)]
    spread = tbptt.groupby(["setting", "impl"], sort=False)[column].agg(lambda v: v.max() / v.min() - 1)
    return spread.rename("spread").reset_index()


def truncation_ranges(T_rows: pd.DataFrame) -> pd.DataFrame:
    """Per framework over the ok TBPTT cells of a truncation block: time span, fastest setting, memory span.

    Columns: impl, n_ok, time_low_s, time_high_s, fastest, memory_low_bytes, memory_high_bytes (SHARED_MEMORY).
    """
    ok = T_rows[T_rows["ok"] & (T_rows["method"] == "tbptt")]
    records = []
    for impl, mine in ok.groupby("impl", sort=False):
        fastest = mine.loc[mine["time_median_s"].idxmin()]
        records.append(
            dict(
                impl=impl,
                n_ok=len(mine),
                time_low_s=mine["time_median_s"].min(),
                time_high_s=mine["time_median_s"].max(),
                fastest=fastest["setting"],
                memory_low_bytes=mine[SHARED_MEMORY].min(),
                memory_high_bytes=mine[SHARED_MEMORY].max(),
            )
        )
    return pd.DataFrame(
        records,
        columns=[
            "impl",
            "n_ok",
            "time_low_s",
            "time_high_s",
            "fastest",
            "memory_low_bytes",
            "memory_high_bytes",
        ],
    )


def best_peak_fraction(rows: pd.DataFrame) -> pd.DataFrame:
    """Per framework, its ok cell with the highest peak_fraction: impl, setting, T, peak_fraction, own_gemm_fraction."""
    ok = rows[rows["ok"] & rows["peak_fraction"].notna()]
    best = ok.loc[ok.groupby("impl", sort=False)["peak_fraction"].idxmax()]
    return best.assign(own_gemm_fraction=best["impl_gemm_gflops_per_s"] / best["peak_gflops_per_s"])[
        ["impl", "setting", "T", "peak_fraction", "own_gemm_fraction"]
    ].reset_index(drop=True)


def cell_summary(rows: pd.DataFrame, setting: str, T: int) -> pd.DataFrame:
    """Per framework, the ok cell of `setting` at `T`: impl, time_median_s, peak_fraction, own_gemm_fraction."""
    ok = rows[rows["ok"] & (rows["setting"] == setting) & (rows["T"] == T)]
    ok = ok.assign(own_gemm_fraction=ok["impl_gemm_gflops_per_s"] / ok["peak_gflops_per_s"])
    return ok[["impl", "time_median_s", "peak_fraction", "own_gemm_fraction"]].reset_index(drop=True)


def own_gemm_fraction(rows: pd.DataFrame) -> float:
    """The framework's own large-GEMM rate over the machine's peak (median over rows; NaN if unknown)."""
    return float((rows["impl_gemm_gflops_per_s"] / rows["peak_gflops_per_s"]).median())


def peak_range(rows: pd.DataFrame) -> tuple[float, float]:
    """(lowest, highest) machine matmul peak in GFLOP/s over the rows (NaN, NaN if none)."""
    peaks = rows["peak_gflops_per_s"].dropna()
    return (float(peaks.min()), float(peaks.max())) if len(peaks) else (np.nan, np.nan)


def cpu_flagged(rows: pd.DataFrame) -> pd.DataFrame:
    """Ok cells that used more cores than their `threads`: the row's `cpu_over_threads` flag where the table
    has it, else median CPU seconds per wall second above CPU_PER_WALL_LIMIT x threads (none without `cpu_s`).
    """
    if "cpu_over_threads" in rows:
        return rows[rows["ok"] & rows["cpu_over_threads"].eq(True)]  # NaN (not measured) is not flagged
    if "cpu_s" not in rows:
        return rows.iloc[:0]
    ratio = rows["cpu_per_wall"] if "cpu_per_wall" in rows else rows["cpu_s"] / rows["time_median_s"]
    return rows[rows["ok"] & (ratio > CPU_PER_WALL_LIMIT * rows["threads"])]


# Literature figures checkpointed BPTT is set beside (/work/shared/LITERATURE.md).
CHEN_2016 = "Chen et al. 2016: O(√T) memory for one extra forward pass"
GRUSLYS_2016 = "Gruslys et al. 2016: at T = 1000, 95% of BPTT's memory saved for +33% time"
CHECKPOINT_T = (1024, 4096)  # the T the issue checks the claims at


def checkpoint_costs(rows: pd.DataFrame, Ts=CHECKPOINT_T) -> pd.DataFrame:
    """Checkpointed BPTT at c = ceil(sqrt(T)) against BPTT, per framework and T where both are ok.

    rows: a scaling block (settings.SQRT_SEGMENT labels). Ts: the T to keep; where none of them was
    measured with both, every T that was. Columns: impl, T, segment, memory_saved (1 - its peak RSS /
    BPTT's), native_saved (same, framework-native peak), model_saved (same, analytic model),
    time_added (its time / BPTT's - 1).
    """
    ok = rows[rows["ok"]]
    keys = ["impl", "T"] + (["cell"] if "cell" in ok else [])  # the LSTM's BPTT is no reference for the Elman cell
    bptt = ok[ok["method"] == "bptt"].set_index(keys)
    sqrt = ok[ok["setting"].str.contains(settings.SQRT_SEGMENT, regex=False)].set_index(keys)
    both = sqrt.merge(bptt, left_index=True, right_index=True, suffixes=("", "_bptt")).reset_index()
    if both["T"].isin(Ts).any():
        both = both[both["T"].isin(Ts)]

    def saved(column):
        return 1 - both[column] / both[f"{column}_bptt"]

    table = pd.DataFrame(
        {
            "impl": both["impl"],
            "T": both["T"].astype(int),
            "segment": both["segment"].astype(int),
            "memory_saved": saved(SHARED_MEMORY),
            "native_saved": saved(NATIVE_MEMORY),
            "model_saved": saved(MODEL_MEMORY),
            "time_added": both["time_median_s"] / both["time_median_s_bptt"] - 1,
        }
    )
    return table.sort_values(["T", "impl"]).reset_index(drop=True)


def frontier_T(records) -> int | None:
    """The T with the most distinct checkpoint spacings c among checkpointed records (rows or specs with
    method, T, segment): the spacing grid's T; ties go to the longest T; None without checkpointed records."""
    spacings: dict[int, set] = {}
    for record in records:
        get = record.get if isinstance(record, dict) else lambda name: getattr(record, name)
        if get("method") == "checkpointed":
            spacings.setdefault(int(get("T")), set()).add(int(get("segment")))
    return max(spacings, key=lambda T: (len(spacings[T]), T)) if spacings else None


ON_DEVICE = " on "  # 'torch on cuda': a framework's rows on a device other than the CPU


def apart_by_device(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with a non-CPU cell's framework named with its device ('torch on cuda'), so that
    figures faceted by framework draw CPU and GPU rows in separate panels; CPU rows unchanged."""
    if "device" not in rows:
        return rows
    on_gpu = rows["device"].fillna("cpu") != "cpu"
    return rows.assign(impl=rows["impl"].where(~on_gpu, rows["impl"] + ON_DEVICE + rows["device"].astype(str)))


def impl_and_device(name: str) -> tuple[str, str]:
    """('torch', 'cuda') of a panel name made by apart_by_device; ('torch', '') of a CPU one."""
    impl, _, device = name.partition(ON_DEVICE)
    return impl, device


SAME_CELL = ["device", "cell", "method", "mode", "T", "k1", "k2", "segment", "B", "H", "D", "O", "dtype"]


def cudnn_speedup(rows: pd.DataFrame) -> pd.DataFrame:
    """On each GPU cell measured ok by both: the step loop's median time (`torch`) over cuDNN's
    fused RNN's (`torch_nn`), i.e. how many times faster cuDNN is. Columns SAME_CELL + speedup."""
    ok = rows[(rows["status"] == "ok") & (rows["device"] != "cpu")] if "device" in rows else rows.iloc[:0]
    times = [ok[ok["impl"] == impl].set_index(SAME_CELL)["time_median_s"].rename(impl) for impl in ("torch", "torch_nn")]
    both = pd.concat(times, axis=1, join="inner")
    return both.assign(speedup=both["torch"] / both["torch_nn"]).reset_index()
