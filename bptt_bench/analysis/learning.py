"""What the learning tables (training, gradient bias, gradient decay) say, as functions over their rows.

A training run is identified by `training.RUN`; its final row is its result. A diverged
run (last row 'diverged') counts as accuracy 0 wherever accuracies are averaged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bptt_bench.analysis import settings
from bptt_bench.experiments.training import RUN, final_rows

LEARNED = 0.9  # a lag counts as learned when the mean final accuracy over seeds reaches this
JOIN = ["impl", "method", "T", "k1", "k2", "B", "H", "D", "O", "dtype"]  # a training run's benchmark cell
AGREE = 1e-9  # frameworks whose gradient-bias numbers differ by less than this are drawn once


def final_runs(training: pd.DataFrame) -> pd.DataFrame:
    """The last row of every run, labelled with its setting; `diverged` is True where it ended in divergence."""
    if training.empty:
        raise ValueError("the training table has no rows")
    runs = settings.labelled(final_rows(training))
    return runs.assign(diverged=runs["status"].ne("ok"))


def lag_accuracy(training: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, lag) of delayed recall: mean, min and max final accuracy over seeds, runs, diverged.

    A diverged run counts as accuracy 0. Settings in the study's order, lags increasing.
    """
    runs = final_runs(training[training["task"].eq("delayed_recall")])
    runs = runs.assign(accuracy=runs["accuracy"].where(~runs["diverged"], 0.0).fillna(0.0))
    table = (
        runs.groupby(["setting", "lag"])
        .agg(
            mean=("accuracy", "mean"),
            low=("accuracy", "min"),
            high=("accuracy", "max"),
            runs=("seed", "size"),
            diverged=("diverged", "sum"),
        )
        .reset_index()
    )
    order = {s: i for i, s in enumerate(settings.table_order(runs))}
    return table.sort_values(
        ["setting", "lag"], key=lambda c: c.map(order) if c.name == "setting" else c, ignore_index=True
    )


def largest_learned_lag(training: pd.DataFrame) -> dict[str, int | None]:
    """Per setting, the largest lag whose mean final accuracy over seeds is >= LEARNED (None if none)."""
    table = lag_accuracy(training)
    return {
        setting: max((int(lag) for lag in g.loc[g["mean"] >= LEARNED, "lag"]), default=None)
        for setting, g in table.groupby("setting", sort=False)
    }


def final_losses(training: pd.DataFrame) -> pd.DataFrame:
    """Per (task, setting): mean, min and max final held-out loss over seeds (finite runs), runs, diverged,
    mean training seconds per run, memoryless baseline. Settings in the study's order within a task."""
    runs = final_runs(training)
    order = {s: i for i, s in enumerate(settings.table_order(runs))}
    finite = runs.assign(loss=runs["loss"].where(np.isfinite(runs["loss"])))
    table = (
        finite.groupby(["task", "setting"], sort=False)
        .agg(
            mean=("loss", "mean"),
            low=("loss", "min"),
            high=("loss", "max"),
            runs=("seed", "size"),
            diverged=("diverged", "sum"),
            training_s=("wall_s", "mean"),
            baseline=("baseline_loss", "first"),
        )
        .reset_index()
    )
    return table.sort_values(
        ["task", "setting"],
        key=lambda c: c.map(order) if c.name == "setting" else c,
        kind="stable",
        ignore_index=True,
    )


def _key_columns(table: pd.DataFrame) -> pd.DataFrame:
    """JOIN columns with comparable types; BPTT's k1 = k2 = T, as the contract defines it."""
    table = table.copy()
    bptt = table["method"].eq("bptt")
    for k in ("k1", "k2"):
        table[k] = table[k].astype(float).where(~bptt, table["T"].astype(float))
    for column in ("T", "B", "H", "D", "O"):
        table[column] = table[column].astype(int)
    table["dtype"] = table["dtype"].astype(str)
    return table


def pareto_points(training: pd.DataFrame, benchmarks: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """(points, unmatched 'task setting' labels): per (task, setting), the mean final loss over seeds with
    the matching benchmark cell's median time per sequence and peak memory (both memory columns).

    Benchmark rows match on JOIN (BPTT's k1 = k2 = T) and count only when 'ok'.
    """
    runs = final_runs(training)
    join = JOIN + (["cell"] if "cell" in runs and "cell" in benchmarks else [])
    final = (
        _key_columns(runs)
        .groupby(["task", "setting"] + join, dropna=False, as_index=False, sort=False)
        .agg(loss=("loss", "mean"), baseline=("baseline_loss", "first"))
    )
    measured = (
        _key_columns(benchmarks[benchmarks["status"].eq("ok")])
        .groupby(join, as_index=False)
        .agg(
            time_s=("time_median_s", "median"),
            framework_peak_bytes=("framework_peak_bytes", "median"),
            peak_rss_bytes=("peak_rss_bytes", "median"),
        )
    )
    points = final.merge(measured, on=join, how="left")
    unmatched = points["time_s"].isna()
    missing = [f"{row.task} {row.setting}" for row in points[unmatched].itertuples()]
    return points[~unmatched].reset_index(drop=True), missing


def front(cost: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points (none other both cheaper or equal and lower), by increasing cost."""
    cost, loss = np.asarray(cost, float), np.asarray(loss, float)
    order = np.lexsort((loss, cost))
    keep = loss[order] < np.minimum.accumulate(np.r_[np.inf, loss[order]])[:-1]
    return order[keep]


def bias_by_k2(bias: pd.DataFrame) -> pd.DataFrame:
    """Per (state, k1, k2): mean, min and max over batches (and frameworks) of cosine and relative error."""
    if bias.empty:
        raise ValueError("the gradient-bias table has no rows")
    grouped = bias.groupby(["state", "k1", "k2"], sort=False)
    table = grouped.agg(
        cosine=("cosine", "mean"),
        cosine_low=("cosine", "min"),
        cosine_high=("cosine", "max"),
        relative_error=("relative_error", "mean"),
        relative_error_low=("relative_error", "min"),
        relative_error_high=("relative_error", "max"),
    )
    return table.reset_index().sort_values(["state", "k1", "k2"], kind="stable", ignore_index=True)


def framework_spread(bias: pd.DataFrame) -> dict[str, float]:
    """Largest difference between frameworks at one (state, k1, k2, batch), in cosine and relative error
    (0 with one framework)."""
    keys = ["state", "k1", "k2", "batch"] + (["cell"] if "cell" in bias else [])
    spread = bias.groupby(keys)[["cosine", "relative_error"]].agg(lambda v: v.max() - v.min()).max()
    return {"cosine": float(spread["cosine"]), "relative_error": float(spread["relative_error"])}


def decay_per_step(decay: pd.DataFrame) -> dict[float, float]:
    """Per spectral radius, the factor per step of the seed-mean norm (least squares on log10 norm vs k)."""
    mean = decay.groupby(["radius", "k"])["grad_norm"].mean()
    return {
        float(radius): float(
            10 ** np.polyfit(line.index.get_level_values("k"), np.log10(line.to_numpy()), 1)[0]
        )
        for radius, line in mean.groupby(level="radius")
    }


def decay_span(decay: pd.DataFrame) -> pd.DataFrame:
    """Per spectral radius: fitted factor per step, seed-mean norm at k = 0 and at the largest k, their ratio."""
    mean = decay.groupby(["radius", "k"])["grad_norm"].mean()
    factors = decay_per_step(decay)
    records = []
    for radius, line in mean.groupby(level="radius"):
        line = line.droplevel("radius").sort_index()
        records.append(
            dict(
                radius=float(radius),
                per_step=factors[float(radius)],
                k_max=int(line.index[-1]),
                norm_k0=float(line.iloc[0]),
                norm_k_max=float(line.iloc[-1]),
                ratio=float(line.iloc[-1] / line.iloc[0]),
            )
        )
    return pd.DataFrame(records)


__all__ = [
    "RUN",
    "LEARNED",
    "JOIN",
    "AGREE",
    "final_runs",
    "lag_accuracy",
    "largest_learned_lag",
    "final_losses",
    "pareto_points",
    "front",
    "bias_by_k2",
    "framework_spread",
    "decay_per_step",
    "decay_span",
]
