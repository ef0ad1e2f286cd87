"""Every number the paper's text quotes, computed from the study's tables (results/paper/numbers.json).

`numbers(tables, figures)` returns a JSON-ready dict of display strings and small row
lists; the Typst source only reads it, so no number in the text is typed by hand. Any
table may be absent: its section then says so (`available` lists what this run made).
"""

from __future__ import annotations

import math
import traceback

import numpy as np
import pandas as pd

from bptt_bench import claims
from bptt_bench.analysis import learnable_lag as lag_analysis
from bptt_bench.analysis.benchmarks import in_grid
from bptt_bench.analysis.learning import decay_per_step, framework_spread
from bptt_bench.analysis.settings import label
from bptt_bench.experiments.echo import expected_level
from bptt_bench.experiments.training import final_rows
from bptt_bench.tables import PROVENANCE_COLUMNS
from bptt_bench.tasks import echo_levels


def fmt(value, digits: int = 3) -> str:
    """A number for the text: `digits` significant figures, plain notation where it reads well; '—' if missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    value = float(value)
    if 1e3 <= abs(value) < 1e5:
        return f"{value:.0f}"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.{digits}g}"


def _setting(method, k1, k2, segment=None, cell=None) -> str:
    return label(method, k1, k2, segment, cell)


def _int(value) -> str:
    return "—" if value is None or pd.isna(value) else str(int(value))


def setup(bench: pd.DataFrame) -> dict:
    """Machine, versions and run settings from the rows' provenance."""
    first = bench.iloc[0]
    out = {column: str(first[column]) for column in PROVENANCE_COLUMNS if column in bench}
    times = pd.to_datetime(bench["utc_time"], utc=True, errors="coerce") if "utc_time" in bench else None
    out |= {
        "threads": ", ".join(str(int(t)) for t in sorted(bench["threads"].unique())),
        "dtypes": ", ".join(sorted(bench["dtype"].astype(str).unique())),
        "impls": ", ".join(sorted(bench["impl"].unique())),
        "first_utc": "—" if times is None else str(times.min())[:19],
        "last_utc": "—" if times is None else str(times.max())[:19],
        "commits": ", ".join(sorted(str(c)[:12] for c in bench["commit"].unique())) if "commit" in bench else "—",
    }
    return out


def cells(bench: pd.DataFrame) -> dict:
    """Counts per status and every cell that is not ok, with its reason."""
    counts = bench["status"].value_counts()
    bad = bench[bench["status"].ne("ok")]
    return {
        "total": str(len(bench)),
        "ok": str(int(counts.get("ok", 0))),
        "by_status": ", ".join(f"{int(n)} {status}" for status, n in counts.items()),
        "not_ok": [
            {"impl": r.impl, "setting": _setting(r.method, r.k1, r.k2, getattr(r, "segment", None), getattr(r, "cell", None)),
             "T": _int(r.T), "status": r.status,
             "reason": str(r.reason)[:160]}
            for r in bad.itertuples()
        ],
    }


SIZES = ["B", "H", "D", "O", "dtype", "threads"]


def main_block(bench: pd.DataFrame, grid: str) -> pd.DataFrame:
    """The rows of grid `grid` if rows name their grid (a cell in several grids names them all), else the rows
    of the most common sizes."""
    if "grid" in bench and in_grid(bench, grid).any():
        return bench[in_grid(bench, grid)]
    sizes = bench[SIZES].astype(str).agg("/".join, axis=1)
    return bench[sizes.eq(sizes.mode().iloc[0])]


def scaling(bench: pd.DataFrame) -> dict:
    """Per impl at its largest T with an ok BPTT cell: BPTT's time and memory, each other cell as a ratio."""
    bench = main_block(bench, "scaling")
    pairs = claims._same_cell_pairs(bench, "tbptt")
    if "checkpointed" in set(bench["method"]):
        pairs = pd.concat([pairs, claims._same_cell_pairs(bench, "checkpointed")], ignore_index=True)
    if pairs.empty:
        return {"rows": [], "T": "—"}
    pairs = pairs[pairs["T"].eq(pairs.groupby("impl")["T"].transform("max"))]
    memory = claims._memory_column(pairs)
    rows = []
    for r in pairs.sort_values(["impl", "method", "k1", "k2"]).itertuples():
        rows.append({
            "impl": r.impl, "T": _int(r.T),
            "setting": _setting(r.method, r.k1, r.k2, getattr(r, "segment", None), getattr(r, "cell", None)),
            "bptt_ms": fmt(1e3 * r.time_median_s_bptt), "ms": fmt(1e3 * r.time_median_s),
            "time_ratio": fmt(r.time_median_s / r.time_median_s_bptt),
            "memory_ratio": fmt(getattr(r, memory) / getattr(r, f"{memory}_bptt")) if memory else "—",
        })
    ok = claims._ok(bench)
    bptt = ok[ok["method"].eq("bptt")].sort_values("T")
    growth = []
    for impl, line in bptt.groupby("impl"):
        line = line.drop_duplicates("T")
        if len(line) >= 2:
            growth.append({"impl": impl, "T_from": _int(line["T"].iloc[0]), "T_to": _int(line["T"].iloc[-1]),
                           "time_growth": fmt(line["time_median_s"].iloc[-1] / line["time_median_s"].iloc[0])})
    return {"rows": rows, "memory_column": memory or "—", "bptt_growth": growth,
            "T": ", ".join(sorted({row["T"] for row in rows}, key=int))}


def truncation_grid(bench: pd.DataFrame) -> dict:
    """The k1 x k2 block: at the T with the most TBPTT settings, fastest and slowest setting per impl."""
    ok = claims._ok(main_block(bench, "truncation"))
    tbptt = ok[ok["method"].eq("tbptt")]
    if tbptt.empty:
        return {"rows": []}
    counts = tbptt.groupby("T").apply(lambda rows: rows[["k1", "k2"]].drop_duplicates().shape[0])
    T = counts.idxmax()
    block = tbptt[tbptt["T"].eq(T)]
    rows = []
    for impl, rows_impl in block.groupby("impl"):
        if len(rows_impl) < 2:
            continue
        fast = rows_impl.loc[rows_impl["time_median_s"].idxmin()]
        slow = rows_impl.loc[rows_impl["time_median_s"].idxmax()]
        rows.append({"impl": impl, "n": str(len(rows_impl)),
                     "fastest": _setting("tbptt", fast.k1, fast.k2), "fastest_ms": fmt(1e3 * fast.time_median_s),
                     "slowest": _setting("tbptt", slow.k1, slow.k2), "slowest_ms": fmt(1e3 * slow.time_median_s)})
    return {"T": _int(T), "rows": rows}


REGIMES = ("gradient", "online_equal_data", "online_equal_updates")  # the table's order; others follow


def _largest(largest: dict, key: tuple) -> str:
    """A cell of the largest-learned-lag table: the lag, 'none', or '—' where the setting did not run."""
    if key not in largest:
        return "—"
    return "none" if largest[key] is None else str(largest[key])


def _setting_order(method, k1, k2) -> tuple:
    """TBPTT by k2 then k1, BPTT (no k2) after them, the readout-only control last; an absent k is None or NaN."""
    def last_if_absent(k):
        return math.inf if k is None or k != k else k

    return method == "readout_only", last_if_absent(k2), last_if_absent(k1)


def learnable_lag(runs: pd.DataFrame) -> dict:
    """Delayed recall at each (regime, setting, lag)'s chosen lr: per setting, the largest learned lag in every
    regime (the analysis module's criterion), its reach, and the gradient regime's mean test accuracy by lag
    (the Elman cell's runs)."""
    runs = lag_analysis.of_cell(runs)
    summary = lag_analysis.lag_summary(runs)
    regimes = [r for r in REGIMES if r in set(summary["regime"])] + sorted(set(summary["regime"]) - set(REGIMES))
    largest = lag_analysis.largest_learned_lag(summary)
    rows = []
    for (method, k1, k2), mine in sorted(summary.groupby(lag_analysis.SETTING, dropna=False), key=lambda group: _setting_order(*group[0])):
        key = lag_analysis.setting_key(method, k1, k2)
        gradient = mine[mine["regime"].eq(regimes[0])].sort_values("lag")
        rows.append({"setting": "readout only" if method == "readout_only" else _setting(method, k1, k2),
                     "reach": _int(mine["reach"].iloc[0]),
                     "largest": [_largest(largest, (regime, *key)) for regime in regimes],
                     "by_lag": ", ".join(f"{fmt(r.accuracy, 2)} (L = {int(r.lag)})" for r in gradient.itertuples())})
    return {"regimes": [r.replace("_", " ") for r in regimes], "rows": rows, "first_regime": regimes[0].replace("_", " "),
            "seeds": str(int(summary["seeds"].max())), "T": _int(runs["T"].iloc[0]),
            "chance": fmt(summary["chance"].iloc[0], 2), "learned": str(lag_analysis.LEARNED_MEAN),
            "confidence": fmt(100 * lag_analysis.CONFIDENCE, 2), "diverged": str(int(summary["diverged"].sum())),
            "lrs": ", ".join(fmt(v, 2) for v in sorted(runs["lr"].unique()))}


def lag_by_cell(runs: pd.DataFrame) -> dict:
    """Per recurrent cell, the largest learned lag of every setting in the gradient regime (the one every cell
    runs: one update per sequence, so only the gradient differs), with the seeds and learning rates it used."""
    summary = lag_analysis.lag_summary(runs)
    summary = summary[summary["regime"].eq(REGIMES[0])]
    keys = sorted({lag_analysis.setting_key(*key) for key, _ in summary.groupby(lag_analysis.SETTING, dropna=False)},
                  key=lambda key: _setting_order(*key))
    rows = []
    for cell in lag_analysis.cells(summary):
        largest = lag_analysis.largest_learned_lag(summary, cell)
        mine = lag_analysis.of_cell(runs, cell)
        rows.append({"cell": cell, "largest": [_largest(largest, (REGIMES[0], *key)) for key in keys],
                     "seeds": str(mine["seed"].nunique()),
                     "lrs": ", ".join(fmt(v, 2) for v in sorted(mine["lr"].unique()))})
    settings = ["readout only" if key[0] == "readout_only" else _setting(*key) for key in keys]
    return {"settings": settings, "rows": rows}


def cosine_by_cell(bias: pd.DataFrame) -> dict:
    """Per cell and parameter state, the mean cosine between the TBPTT and BPTT gradients at each k2 < T
    (mean over k1, batches and frameworks)."""
    short = bias.assign(cell=lag_analysis.cell_column(bias))[bias["k2"] < bias["T"].max()]
    mean = short.groupby(["cell", "state", "k2"])["cosine"].mean()
    k2s = sorted(short["k2"].unique())
    order = {name: i for i, name in enumerate(lag_analysis.cells(short))}
    rows = [{"cell": c, "state": state, "cosine": [fmt(mean.get((c, state, k2)), 2) for k2 in k2s]}
            for c, state in sorted(mean.index.droplevel("k2").unique(), key=lambda key: (order[key[0]], key[1]))]
    return {"k2": [_int(k2) for k2 in k2s], "rows": rows}


def learning(training: pd.DataFrame) -> dict:
    """Loss curves: per task, final held-out loss by setting against the memoryless baseline."""
    out = {}
    runs = final_rows(training).copy()
    curves = []
    for task, rows_task in runs.groupby("task"):
        mean = rows_task.groupby(["method", "k1", "k2"], dropna=False)[["loss", "wall_s"]].mean()
        baseline = rows_task["baseline_loss"].iloc[0]
        for (method, k1, k2), r in mean.iterrows():
            curves.append({"task": task, "setting": _setting(method, k1, k2), "loss": fmt(r["loss"]),
                           "baseline": fmt(baseline), "ratio": fmt(r["loss"] / baseline),
                           "wall_s": fmt(r["wall_s"])})
    out["curves"] = curves
    return out


def gradient_bias(bias: pd.DataFrame) -> dict:
    stats = bias.groupby(["state", "k1", "k2"])[["cosine", "relative_error"]].mean().reset_index()
    short = stats[stats["k2"] < bias["T"].max()]
    spread = framework_spread(bias)["cosine"]
    return {
        "T": _int(bias["T"].iloc[0]), "lag": _int(bias["lag"].iloc[0]),
        "impls": ", ".join(sorted(bias["impl"].unique())),
        "cosine_min": fmt(short["cosine"].min()), "cosine_max": fmt(short["cosine"].max()),
        "error_max": fmt(short["relative_error"].max()),
        "framework_spread": fmt(spread),
    }


def decay(table: pd.DataFrame) -> dict:
    return {"factors": [{"radius": fmt(r), "factor": fmt(f)} for r, f in decay_per_step(table).items()],
            "T": _int(table["T"].iloc[0]), "H": _int(table["H"].iloc[0])}


def truncated_norms(table: pd.DataFrame) -> dict:
    mean = table.groupby(["radius", "method", "k2"], dropna=False)["grad_norm"].mean().reset_index()
    rows = []
    for radius, r in mean.groupby("radius"):
        rows.append({"radius": fmt(radius), **{_setting(m, k, k): fmt(v) for m, k, v in
                                                zip(r["method"], r["k2"], r["grad_norm"])}})
    settings = [_setting(m, k, k) for m, k in mean[["method", "k2"]].drop_duplicates().itertuples(index=False)]
    return {"rows": rows, "settings": settings}


def echo(table: pd.DataFrame) -> dict:
    """Per (H, k): mean and range of the final loss over seeds, beside the level TBPTT(k, k) can reach by
    gradient; `rows` keep the order (H, k)."""
    runs = final_rows(table)
    stats = runs.groupby(["H", "k1"])["loss"].agg(["mean", "std", "min", "max"])
    levels = echo_levels()
    first = runs.iloc[0]
    return {
        "rows": [{"H": _int(H), "k": _int(k), "mean": fmt(r["mean"], 4),
                  "range": f"{fmt(r['min'], 4)}–{fmt(r['max'], 4)}",
                  "level": expected_level(int(k)), "level_value": fmt(levels[expected_level(int(k))], 4)}
                 for (H, k), r in stats.iterrows()],
        "seeds": str(runs["seed"].nunique()), "T": _int(first["T"]),
        "H": ", ".join(str(int(H)) for H in sorted(runs["H"].unique())),
        "sequences": _int(runs["sequences_seen"].max()), "lr": fmt(first["lr"]),
        "diverged": str(int(runs["status"].ne("ok").sum())),
    }


def derivative_free(table: pd.DataFrame) -> dict:
    final = table.sort_values("wall_s").groupby(["optimizer", "seed"]).tail(1)
    stats = final.groupby("optimizer").agg(loss=("loss", "mean"), evaluations=("evaluations", "mean"))
    first = table.iloc[0]
    return {"rows": [{"optimizer": name, "loss": fmt(r["loss"], 4), "evaluations": fmt(r["evaluations"])}
                     for name, r in stats.iterrows()],
            "budget_s": fmt(first["budget_s"]), "n_params": _int(first["n_params"]), "T": _int(first["T"]),
            "H": _int(first["H"]), "seeds": str(table["seed"].nunique())}


def peer_check(table: pd.DataFrame) -> dict:
    ok = table[table["status"].eq("ok")]
    if ok.empty:
        return {"ran": False, "reason": str(table["reason"].iloc[0]), "rows": []}
    return {"ran": True, "version": str(ok["ignite_version"].iloc[0]),
            "rows": [{"impl": r.impl, "T": _int(r.T), "k": _int(r.k), "divides": "yes" if r.k_divides_T else "no",
                      "difference": fmt(r.max_relative_difference, 2)} for r in ok.itertuples()]}


SECTIONS = {  # numbers.json key -> (table, function)
    "setup": ("benchmarks", setup),
    "cells": ("benchmarks", cells),
    "scaling": ("benchmarks", scaling),
    "truncation": ("benchmarks", truncation_grid),
    "learnable_lag": ("learnable_lag", learnable_lag),
    "lag_by_cell": ("learnable_lag", lag_by_cell),
    "cosine_by_cell": ("gradient_bias", cosine_by_cell),
    "learning": ("training", learning),
    "gradient_bias": ("gradient_bias", gradient_bias),
    "gradient_decay": ("gradient_decay", decay),
    "truncated_norms": ("truncated_norms", truncated_norms),
    "echo": ("echo", echo),
    "derivative_free": ("derivative_free", derivative_free),
    "peer_check": ("peer_check", peer_check),
}


def numbers(tables: dict[str, pd.DataFrame], figures: list[str], claims_table: pd.DataFrame | None = None) -> dict:
    """All numbers of the paper; a section whose table is absent or empty is left out (its name in `missing`);
    one that cannot be computed from its table is left out too, its reason in `errors` (the paper prints it)."""
    out: dict = {"available": sorted(name for name, t in tables.items() if len(t)), "figures": sorted(figures)}
    missing, errors = [], {}
    for key, (table, function) in SECTIONS.items():
        if table in tables and len(tables[table]):
            try:
                out[key] = function(tables[table])
            except Exception as error:  # noqa: BLE001 - the paper says which section failed and why, and builds
                traceback.print_exc()  # into the rule's log
                errors[key] = {"table": table, "reason": f"{type(error).__name__}: {error}"[:300]}
                missing.append(key)
        else:
            missing.append(key)
    out["missing"], out["errors"] = missing, errors
    if claims_table is not None:
        counts = claims_table["verdict"].value_counts()
        out["claims"] = {"total": str(len(claims_table)),
                         **{v.replace(" ", "_"): str(int(counts.get(v, 0))) for v in claims.VERDICTS}}
    levels = echo_levels()
    out["echo_levels"] = {name: fmt(value, 4) for name, value in levels.items()}
    return out


def json_safe(value):
    """numpy scalars -> Python, for json.dumps."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
