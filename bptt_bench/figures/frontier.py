"""Memory against time per sequence at one long T: BPTT, checkpointed BPTT at several c and the
TBPTT settings on one chart, each point marked with its gradient error against BPTT (0 for
checkpointing, which is exact; for TBPTT the gradient-bias experiment's relative error)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from bptt_bench.figures import save_figure
from bptt_bench.analysis.benchmarks import cells
from bptt_bench.figures.benchmarks import MIB
from bptt_bench.figures.style import PLAIN, impl_order

EXACT = ("bptt", "checkpointed")


def frontier_points(table: pd.DataFrame, bias: pd.DataFrame | None = None, T: int | None = None
                    ) -> tuple[int, pd.DataFrame]:
    """(T, ok cells at T with columns impl, setting, method, time_median_s, peak_rss_bytes, gradient_error).

    T defaults to the T with the most checkpoint spacings measured. gradient_error: 0 for
    BPTT and checkpointed BPTT; for TBPTT(k1, k2) the mean relative_error of the bias
    table's rows with that (k1, k2), NaN where it has none.
    """
    rows = cells(table)
    rows = rows[rows["ok"]]
    if T is None:
        checkpointed = rows[rows["method"] == "checkpointed"]
        if checkpointed.empty:
            raise ValueError("no checkpointed BPTT cells in the table")
        T = int(checkpointed.groupby("T")["segment"].nunique().sort_index().idxmax())
    rows = rows[rows["T"] == T].copy()
    errors = {} if bias is None else bias.groupby(["k1", "k2"])["relative_error"].mean().to_dict()
    rows["gradient_error"] = [
        0.0 if method in EXACT else errors.get((k1, k2), np.nan)
        for method, k1, k2 in zip(rows["method"], rows["k1"], rows["k2"])
    ]
    return T, rows[["impl", "setting", "method", "time_median_s", "peak_rss_bytes", "gradient_error"]]


def plot_frontier(table: pd.DataFrame, out_stem, bias: pd.DataFrame | None = None, T: int | None = None
                  ) -> list[Path]:
    """Peak RSS (MiB) against time per sequence (s), log-log, one panel per framework."""
    T, points = frontier_points(table, bias, T)
    impls = impl_order(set(points["impl"]))
    settings = list(points.sort_values(["method", "setting"])["setting"].unique())
    palette = dict(zip(settings, sns.color_palette("colorblind", len(settings))))
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(4.3 * len(impls) + 2, 4.4), layout="constrained")
        axes = fig.subplots(1, len(impls), sharex=True, sharey=True, squeeze=False)[0]
    for ax, impl in zip(axes, impls):
        for _, point in points[points["impl"] == impl].iterrows():
            error = point["gradient_error"]
            ax.scatter(point["time_median_s"], point["peak_rss_bytes"] / MIB, color=palette[point["setting"]],
                       marker="o" if point["method"] in EXACT else "s", s=30, label=point["setting"])
            ax.annotate("n/a" if np.isnan(error) else f"{error:.2g}", (point["time_median_s"],
                        point["peak_rss_bytes"] / MIB), textcoords="offset points", xytext=(4, 3), fontsize=7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(PLAIN)
        ax.xaxis.set_minor_formatter(PLAIN)  # a time axis often spans less than a decade
        ax.yaxis.set_major_formatter(PLAIN)
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(impl, fontsize=10)
        ax.set_xlabel("time per sequence (s)")
    axes[0].set_ylabel("peak RSS above baseline (MiB)")
    handles = {text: handle for ax in axes for handle, text in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), title="setting (circle: exact gradient)", loc="outside right center")
    fig.suptitle(f"Memory against time per sequence at T={T}\nnumbers: relative gradient error against BPTT "
                 "(0: exact;\nTBPTT: gradient-bias experiment, its own task and T; n/a: not measured there)",
                 fontsize=9)
    return save_figure(fig, out_stem)
