"""Memory against time per sequence at one long T: BPTT, checkpointed BPTT at several c and the
TBPTT settings on one chart, each point marked with its gradient error against BPTT, computed for
exactly these settings at this T (experiments.gradient_bias.errors_against_bptt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bptt_bench.figures import save_figure
from bptt_bench.analysis.benchmarks import cells, frontier_T
from bptt_bench.analysis.settings import labelled, table_order
from bptt_bench.figures.benchmarks import MIB
from bptt_bench.figures.style import SettingStyle, impl_order, log_axis

EXACT = ("bptt", "checkpointed")
ERROR_NOTE = "relative gradient error against BPTT, ||G - G_BPTT|| / ||G_BPTT||"


def frontier_points(table: pd.DataFrame, errors: pd.DataFrame | None = None, T: int | None = None
                    ) -> tuple[int, pd.DataFrame]:
    """(T, ok cells at T with columns impl, setting, method, segment, time_median_s, peak_rss_bytes,
    gradient_error).

    table: one configuration's benchmark rows. T defaults to the T with the most checkpoint spacings
    (analysis.benchmarks.frontier_T). errors: rows of method, k1, k2, segment, relative_error
    (experiments.gradient_bias.errors_against_bptt); a setting's gradient_error is its relative_error
    there, NaN where it has none (never assumed, not even 0 for the exact methods).
    """
    rows = cells(table)
    rows = rows[rows["ok"]]
    if T is None:
        T = frontier_T(rows.to_dict("records"))
        if T is None:
            raise ValueError("no checkpointed BPTT cells in the table")
    rows = rows[rows["T"] == T].copy()
    known = {} if errors is None else dict(zip(labelled(errors)["setting"], errors["relative_error"]))
    rows["gradient_error"] = [known.get(setting, np.nan) for setting in rows["setting"]]
    columns = ["impl", "setting", "method", "segment", "time_median_s", "peak_rss_bytes", "gradient_error"]
    return int(T), rows[columns]


def _error_text(error: float) -> str:
    return "n/a" if not np.isfinite(error) else "0" if error == 0 else f"{error:.2g}"


def draw_frontier(table: pd.DataFrame, errors: pd.DataFrame | None = None, T: int | None = None,
                  setting_style: SettingStyle | None = None, error_text: str = "") -> Figure:
    """Peak RSS (MiB) against time per sequence (s), log-log, one panel per framework; each point
    labelled with its gradient error. error_text: where the errors come from (for the title)."""
    T, points = frontier_points(table, errors, T)
    impls = impl_order(set(points["impl"]))
    order = table_order(points)
    look = SettingStyle(order) if setting_style is None else setting_style.extended(order)
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(4.3 * len(impls) + 2.8, 4.6), layout="constrained")
        axes = fig.subplots(1, len(impls), sharex=True, sharey=True, squeeze=False)[0]
    for ax, impl in zip(axes, impls):
        mine = points[points["impl"] == impl]
        spacing = mine[mine["method"] == "checkpointed"].sort_values("segment")
        ax.plot(spacing["time_median_s"], spacing["peak_rss_bytes"] / MIB, color="0.75", linewidth=1, zorder=1)
        below = set(spacing.index[1::2])  # neighbouring spacings often sit close: their labels alternate sides
        for index, point in mine.iterrows():
            xy = (point["time_median_s"], point["peak_rss_bytes"] / MIB)
            ax.scatter(*xy, color=look.colour(point["setting"]), marker=look.marker(point["setting"]), s=36,
                       edgecolors="black" if point["method"] in EXACT else "none", linewidths=0.8, zorder=3)
            ax.annotate(_error_text(point["gradient_error"]), xy, textcoords="offset points",
                        xytext=(5, -9) if index in below else (5, 3), fontsize=7)
        ax.set_title(impl, fontsize=10)
        ax.set_xlabel("time per sequence (s)")
    log_axis(axes[0], "x", min_labels=3)  # axes are shared: one call sets every panel
    log_axis(axes[0], "y", min_labels=3)
    axes[0].set_ylabel("peak RSS above the process baseline (MiB)")
    present = [s for s in order if s in set(points["setting"])]
    fig.legend([look.handle(s, linestyle="") for s in present], present,
               title="setting (black edge: exact gradient;\ngrey line joins the checkpoint spacings c)",
               loc="outside right center", fontsize=8, title_fontsize=8)
    fig.suptitle(f"Memory against time per sequence at T={T}: exact (BPTT, checkpointed) and truncated (TBPTT)\n"
                 f"number beside each point: {ERROR_NOTE}{error_text}; n/a: not computed",
                 fontsize=9)
    return fig


def plot_frontier(table: pd.DataFrame, out_stem, errors: pd.DataFrame | None = None, T: int | None = None,
                  setting_style: SettingStyle | None = None, error_text: str = "") -> list[Path]:
    return save_figure(draw_frontier(table, errors, T, setting_style, error_text), out_stem)


def summarize_frontier(table: pd.DataFrame, errors: pd.DataFrame | None = None, T: int | None = None) -> dict:
    """The findings entry {'frontier': {title, says, table, notes}}: each point's time, memory and error."""
    T, points = frontier_points(table, errors, T)
    order = {s: i for i, s in enumerate(table_order(points))}
    points = points.assign(_o=points["setting"].map(order)).sort_values(["impl", "_o"])
    return {
        "frontier": {
            "title": f"Memory against time at T={T}: the frontier",
            "says": (f"Every ok cell at T={T}: time per sequence, peak RSS above the process baseline, and the "
                     f"{ERROR_NOTE}."),
            "table": {
                "columns": ["impl", "setting", "time per sequence (s)", "peak RSS (MiB)", "relative gradient error"],
                "rows": [[r.impl, r.setting, f"{r.time_median_s:.3g}", f"{r.peak_rss_bytes / MIB:.3g}",
                          _error_text(r.gradient_error)] for r in points.itertuples()],
            },
            "notes": [],
        }
    }
