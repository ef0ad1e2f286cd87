"""Figures of the paper's own experiments: echo levels, derivative-free comparison, truncated norms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from bptt_bench.experiments.training import final_rows
from bptt_bench.figures import save_figure
from bptt_bench.figures.style import SettingStyle
from bptt_bench.tasks import echo_levels

LEVEL_LABELS = {"none": "neither lag known", "lag3": "lag 3 known", "both": "lags 3 and 8 known"}
PLAIN = FuncFormatter(lambda value, _: f"{value:g}")  # 1000 rather than 10^3 on a log axis
OPTIMIZER_LABELS = {"bptt_sgd": "BPTT + SGD", "powell": "SciPy Powell", "es": "evolution strategy"}


def plot_echo(echo: pd.DataFrame, out_stem) -> list[Path]:
    """Final held-out loss of TBPTT(k, k) on echo against k, one line per hidden size H: seeds as dots,
    mean as a line, exact levels dashed."""
    runs = final_rows(echo)
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ok = runs[runs["status"].eq("ok")]
    series_looks = zip(("black", "tab:purple", "tab:olive", "tab:cyan"), "osD^")
    for (H, by_H), (colour, marker) in zip(ok.groupby("H"), series_looks):
        mean = by_H.groupby("k1")["loss"].mean()
        ax.plot(mean.index, mean.to_numpy(), color=colour, marker=marker, label=f"H = {H}: mean over seeds")
        ax.scatter(by_H["k1"], by_H["loss"], s=12, color=colour, marker=marker, alpha=0.35, zorder=3,
                   label=f"H = {H}: one seed")
    for (name, level), style in zip(echo_levels().items(), ("--", "-.", ":")):
        ax.axhline(level, color="grey", linestyle=style, linewidth=1, label=f"{LEVEL_LABELS[name]}: {level:.4f}")
    for lag in (3, 8):
        ax.axvline(lag + 0.5, color="tab:red", linewidth=0.6, alpha=0.5)
    diverged = runs[~runs["status"].eq("ok")]
    if len(diverged):
        ax.scatter(diverged["k1"], np.full(len(diverged), max(echo_levels().values())), marker="X", color="red",
                   label=f"diverged run ({len(diverged)})")
    ax.set_xlabel("truncation k of TBPTT(k, k) (red: k = lag + 1 needed for lags 3 and 8)")
    ax.set_ylabel("final held-out cross-entropy (nats)")
    ax.set_xticks(sorted(runs["k1"].unique()))
    ax.legend(fontsize=7, loc="center right")  # between the levels, clear of the lines
    first = runs.iloc[0]
    ax.set_title(f"Echo task, TBPTT(k, k), T = {first['T']}, {first['impl']}, {first['dtype']}: "
                 f"{runs['seed'].nunique()} seed(s), {int(runs['sequences_seen'].max())} sequences each", fontsize=9)
    return save_figure(fig, out_stem)


def plot_derivative_free(runs: pd.DataFrame, out_stem) -> list[Path]:
    return save_figure(draw_derivative_free(runs), out_stem)


def draw_derivative_free(runs: pd.DataFrame) -> Figure:
    """Held-out loss against optimiser seconds, one line per (optimiser, seed), same budget for each."""
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    colors = dict(zip(OPTIMIZER_LABELS, ("black", "tab:orange", "tab:green")))
    for (name, seed), line in runs.groupby(["optimizer", "seed"], sort=False):
        ax.plot(line["wall_s"], line["loss"], color=colors.get(name, "grey"),
                label=OPTIMIZER_LABELS.get(name, name) if seed == runs["seed"].min() else None)
    levels = echo_levels()
    ax.axhline(levels["none"], color="grey", linestyle="--", linewidth=1, label=f"neither lag known: {levels['none']:.4f}")
    ax.axhline(levels["lag3"], color="grey", linestyle="-.", linewidth=1, label=f"lag 3 known: {levels['lag3']:.4f}")
    # A run that blows up late would squash every curve into the bottom tenth: the axis ends a little
    # above the worst starting loss, and what lies beyond is marked on its edge with its value.
    top = 1.15 * runs.sort_values("wall_s").groupby(["optimizer", "seed"])["loss"].first().max()
    above = runs[runs["loss"] > top]
    if len(above):
        ax.set_ylim(top=top)
        points = f"{len(above)} point{'s' * (len(above) > 1)}"
        ax.scatter(above["wall_s"], np.full(len(above), top), marker="^", s=18, clip_on=False, zorder=4,
                   color=[colors.get(name, "grey") for name in above["optimizer"]],
                   label=f"above the axis ({points}, up to {above['loss'].max():.3g} nats)")
    ax.set_xlabel("optimiser seconds (evaluation excluded)")
    ax.set_ylabel("held-out cross-entropy (nats)")
    ax.legend(fontsize=7)
    first = runs.iloc[0]
    ax.set_title(f"Echo task, T = {first['T']}, H = {first['H']} ({first['n_params']} parameters), float64: "
                 f"{first['budget_s']:g} s each, {runs['seed'].nunique()} seed(s)", fontsize=9)
    return fig


def plot_truncated_norms(norms: pd.DataFrame, out_stem, look: SettingStyle | None = None) -> list[Path]:
    """Gradient norm of BPTT and TBPTT(k, k) against the spectral radius of W_hh (mean and range over
    seeds); each setting in the study's colour and marker (`look`)."""
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    groups = list(norms.groupby(["method", "k2"], dropna=False, sort=False))
    labels = ["BPTT" if method == "bptt" else f"TBPTT({int(k2)}, {int(k2)})" for (method, k2), _ in groups]
    look = (look or SettingStyle([])).extended(labels)
    for label, (_, rows) in zip(labels, groups):
        stats = rows.groupby("radius")["grad_norm"].agg(["mean", "min", "max"])
        ax.plot(stats.index, stats["mean"], marker=look.marker(label), color=look.colour(label), label=label)
        ax.fill_between(stats.index, stats["min"], stats["max"], color=look.colour(label), alpha=0.2)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(PLAIN)
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("spectral radius of W_hh")
    ax.set_ylabel("||gradient|| (all parameters)")
    ax.legend(fontsize=8, title="method; band: range over seeds", title_fontsize=7)
    first = norms.iloc[0]
    ax.set_title(f"Delayed recall (lag 1), T = {first['T']}, H = {first['H']}, B = {first['B']}, "
                 f"{first['dtype']}, NumPy", fontsize=9)
    return save_figure(fig, out_stem)


PLOTS = {"echo": plot_echo, "derivative_free": plot_derivative_free, "truncated_norms": plot_truncated_norms}
