"""Figures of the benchmark table (`tables.BENCHMARK_COLUMNS`), and their captions.

The blocks of the grid are read from the rows, never assumed:

- the *scaling block* is every setting (method, k1, k2) measured at >= 2 distinct T;
- the *truncation block* is the T with the most distinct TBPTT (k1, k2) pairs.

Cells whose status is not 'ok' stay out of curves and colour scales, but are counted in
panel titles (or named in heatmap cells) and in the captions, so failures stay visible.
A table holds one configuration (B, H, D, O, dtype, threads); filter before plotting.
Figures are built without pyplot (no global state, no GUI backend); PNG renders with Agg.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator, PercentFormatter

import implementations
from bptt_bench.figures import save_figure

MIB = 2**20
IMPL_ORDER = implementations.NAMES
CELL = ["impl", "method", "T", "k1", "k2"]
CONFIG = ["B", "H", "D", "O", "dtype", "threads"]
# What framework_peak_bytes measures in each implementation.
NATIVE_PEAK = {name: entry.native_memory for name, entry in implementations.REGISTRY.items()}
MEMORY_MEASURES = (  # (legend label, column, line style, marker)
    ("peak RSS (baseline subtracted)", "peak_rss_bytes", "-", "o"),
    ("framework-native peak", "framework_peak_bytes", "--", "s"),
    ("analytic model (saved states)", "analytic_activation_bytes", ":", None),
)
IQR_NOTE = "error bars: interquartile range of the repeats, centred on the median"
PLAIN = FuncFormatter(lambda value, _: f"{value:g}")  # 0.01 rather than 10^-2 on log scales


def setting_label(method: str, k1, k2) -> str:
    """'BPTT' or 'TBPTT(k1, k2)'."""
    return "BPTT" if method == "bptt" else f"TBPTT({int(k1)}, {int(k2)})"


def cells(table: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (impl, method, T, k1, k2), with columns `setting` (label) and `ok`.

    A cell measured twice (the scaling and truncation blocks may share one) keeps an ok
    row over a failed one.
    """
    if table.empty:
        raise ValueError("the benchmark table has no rows")
    configs = table[CONFIG].drop_duplicates()
    if len(configs) > 1:
        raise ValueError(f"figures expect one configuration {CONFIG} per table, got {len(configs)}")
    labelled = table.assign(
        setting=[setting_label(*row) for row in zip(table["method"], table["k1"], table["k2"])],
        ok=table["status"].eq("ok"),
    )
    labelled = labelled.sort_values("ok", ascending=False, kind="stable").drop_duplicates(CELL)
    return labelled.reset_index(drop=True)  # concatenated rows may repeat index labels


def scaling_block(table: pd.DataFrame) -> pd.DataFrame:
    """Cells of the settings measured at >= 2 distinct T."""
    rows = cells(table)
    n_T = rows.groupby("setting")["T"].nunique()
    rows = rows[rows["setting"].isin(n_T.index[n_T >= 2])]
    if rows.empty:
        raise ValueError("no setting (method, k1, k2) was measured at two or more values of T")
    return rows


def truncation_block(table: pd.DataFrame) -> tuple[int, pd.DataFrame]:
    """(T, cells of the k1 x k2 grid at T, plus BPTT at T) for the T with the most TBPTT (k1, k2) pairs.

    A k1 (k2) belongs to the grid when it was paired with more than half as many k2 (k1)
    as the fullest one: this drops scaling-block settings that share the T, e.g. (32, 8)
    beside a {4, 16, 64}^2 grid.
    """
    rows = cells(table)
    tbptt = rows[rows["method"] == "tbptt"]
    if tbptt.empty:
        raise ValueError("no TBPTT cells in the table")
    T = tbptt.drop_duplicates(["T", "k1", "k2"])["T"].value_counts().sort_index().idxmax()
    rows, tbptt = rows[rows["T"] == T], tbptt[tbptt["T"] == T]
    pairs = tbptt.drop_duplicates(["k1", "k2"])
    in_grid = pd.Series(True, index=rows.index)
    for k in ("k1", "k2"):
        counts = pairs[k].value_counts()
        in_grid &= rows[k].isin(counts.index[counts > counts.max() / 2])
    return int(T), rows[in_grid | (rows["method"] == "bptt")]


def _settings(rows: pd.DataFrame) -> list[str]:
    """Setting labels in plotting order: BPTT first, then TBPTT by (k1, k2)."""
    return list(rows.sort_values(["method", "k1", "k2"]).drop_duplicates("setting")["setting"])


def _impls(rows: pd.DataFrame) -> list[str]:
    present = set(rows["impl"])
    return [i for i in IMPL_ORDER if i in present] + sorted(present - set(IMPL_ORDER))


def _palette(rows: pd.DataFrame) -> dict[str, tuple]:
    """BPTT in near-black, each TBPTT setting its own colour, the same in every panel."""
    tbptt = [s for s in _settings(rows) if s != "BPTT"]
    return {"BPTT": (0.15, 0.15, 0.15)} | dict(zip(tbptt, sns.color_palette("colorblind", len(tbptt))))


def _config_text(rows: pd.DataFrame) -> str:
    r = rows.iloc[0]
    return f"B={r['B']:g}, H={r['H']:g}, D={r['D']:g}, O={r['O']:g}, {r['dtype']}, {r['threads']:g} thread(s)"


def _not_plotted(rows: pd.DataFrame) -> str:
    """'2 cells not plotted: 1 timeout, 1 oom' ('3 cells not plotted: oom'), or '' when every cell is ok."""
    counts = rows.loc[~rows["ok"], "status"].value_counts()
    if counts.empty:
        return ""
    cells_word = "cell" if counts.sum() == 1 else "cells"
    statuses = ", ".join(f"{n} {s}" for s, n in counts.items()) if len(counts) > 1 else counts.index[0]
    return f"{counts.sum()} {cells_word} not plotted: {statuses}"


def _failed_cells(rows: pd.DataFrame) -> str:
    """Caption text on the cells that are not ok: named when few, counted per framework and status when many.

    e.g. ' Not ok: numpy BPTT at T=4096 (timeout); 14 jax cells (error).'
    """
    failed = rows[~rows["ok"]].sort_values(["method", "k1", "k2", "T"])
    parts = []
    for impl in _impls(failed):
        for status, group in failed[failed["impl"] == impl].groupby("status"):
            if len(group) <= 2:
                parts += [f"{impl} {r.setting} at T={r.T:g} ({status})" for r in group.itertuples()]
            else:
                parts.append(f"{len(group)} {impl} cells ({status})")
    return " Not ok: " + "; ".join(parts) + "." if parts else ""


def _per_framework(table: pd.DataFrame, draw) -> tuple[Figure, np.ndarray, pd.DataFrame]:
    """(figure, axes, scaling-block cells): one panel per framework over T, sharing both axes.

    draw(ax, panel_cells, palette) plots one framework and returns a note for its title.
    """
    rows = scaling_block(table)
    palette = _palette(rows)
    impls = _impls(rows)
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(4.3 * len(impls) + 2, 4.2), layout="constrained")
        axes = fig.subplots(1, len(impls), sharex=True, sharey=True, squeeze=False)[0]
    for ax, impl in zip(axes, impls):
        panel = rows[rows["impl"] == impl]
        absent = ", ".join(s for s in palette if s not in set(panel["setting"]))
        notes = (draw(ax, panel, palette), _not_plotted(panel), absent and f"not run: {absent}")
        note = "\n".join(n for n in notes if n)  # one line each: side-by-side titles must not collide
        ax.set_title(impl + (f"\n{note}" if note else ""), fontsize=10)
        _T_axis(ax, rows)
    handles = [Line2D([], [], color=c, marker="o", label=s) for s, c in palette.items()]
    fig.legend(handles=handles, title="setting", loc="outside right upper")
    return fig, axes, rows


def _T_axis(ax, rows: pd.DataFrame) -> None:
    """Log2 axis with a tick at every T of the block."""
    Ts = sorted(rows["T"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(Ts, [f"{T:g}" for T in Ts])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("sequence length T (steps)")


def _log_y(ax) -> None:
    """Log y axis labelled 0.01, 0.1, 1 (with 2 and 5 between when it spans <= 3 decades); call after plotting."""
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5) if high / low <= 1e3 else (1,)))
    ax.yaxis.set_major_formatter(PLAIN)
    ax.yaxis.set_minor_formatter(NullFormatter())


def _draw_time(ax, panel: pd.DataFrame, palette: dict) -> str:
    for setting, line in panel[panel["ok"]].sort_values("T").groupby("setting"):
        median = line["time_median_s"]
        # half the IQR either side, kept above 0 for the log axis
        low = (line["time_iqr_s"] / 2).clip(upper=0.99 * median).fillna(0)
        high = (line["time_iqr_s"] / 2).fillna(0)
        ax.errorbar(line["T"], median, yerr=[low, high], color=palette[setting], marker="o", markersize=4,
                    capsize=2)
    return ""


def plot_time_vs_T(table: pd.DataFrame, out_stem) -> list[Path]:
    """Time per sequence (s) vs T, log-log: one line per setting, one panel per framework."""
    fig, axes, rows = _per_framework(table, _draw_time)
    _log_y(axes[0])
    axes[0].set_ylabel("time per sequence (s)")
    fig.suptitle("Time of one pass over one sequence (BPTT: loss + gradient; TBPTT: training)\n"
                 f"{_config_text(rows)}; {IQR_NOTE}", fontsize=10)
    return save_figure(fig, out_stem)


def _draw_memory(ax, panel: pd.DataFrame, palette: dict) -> str:
    non_positive = 0
    for setting in _settings(panel):
        cells_of = panel[panel["setting"] == setting].sort_values("T")
        for _, column, style, marker in MEMORY_MEASURES:
            # the model holds for every cell; measurements only for ok ones
            line = cells_of if column == "analytic_activation_bytes" else cells_of[cells_of["ok"]]
            values = line[column]
            non_positive += int((values <= 0).sum())
            keep = values > 0  # a log axis cannot show 0 (e.g. RSS below the baseline)
            ax.plot(line["T"][keep], values[keep] / MIB, color=palette[setting], linestyle=style, marker=marker,
                    markersize=4)
    native = f"native: {NATIVE_PEAK.get(panel['impl'].iloc[0], 'framework-reported')}"
    return native + (f"; {non_positive} values <= 0 B not drawn" if non_positive else "")


def plot_memory_vs_T(table: pd.DataFrame, out_stem) -> list[Path]:
    """Peak memory (MiB) vs T, log-log: measured RSS and framework-native peak beside the model."""
    fig, axes, rows = _per_framework(table, _draw_memory)
    _log_y(axes[0])
    axes[0].set_ylabel("peak memory (MiB)")
    fig.suptitle(f"Peak memory of one pass over one sequence vs T — {_config_text(rows)}\n"
                 "analytic model: longest gradient window × B × H × itemsize "
                 "(BPTT grows with T, TBPTT stays at k2)", fontsize=10)
    measures = [Line2D([], [], color="0.3", linestyle=style, marker=marker, label=label)
                for label, _, style, marker in MEMORY_MEASURES]
    fig.legend(handles=measures, title="memory", loc="outside right lower")
    return save_figure(fig, out_stem)


def _heatmap(ax, tbptt: pd.DataFrame, column: str, scale: float, unit: str, cmap: str, k1s, k2s) -> None:
    """k1 x k2 heatmap of column/scale over the ok cells; failed cells carry their status."""
    grid = dict(index=pd.Index(k1s, name="k1"), columns=pd.Index(k2s, name="k2"))
    ok = tbptt[tbptt["ok"]]
    values = ok.pivot(index="k1", columns="k2", values=column).reindex(**grid) / scale
    finite = values.to_numpy()[np.isfinite(values.to_numpy()) & (values.to_numpy() > 0)]
    wide = finite.size and finite.max() >= 3 * finite.min()  # a log scale helps only over a wide range
    scale_kws = ({"norm": LogNorm(finite.min(), finite.max())} if wide else {} if finite.size
                 else {"vmin": 0, "vmax": 1, "cbar": False})  # no ok cell: nothing to scale
    sns.heatmap(values, ax=ax, annot=values.map(lambda v: f"{v:.3g}" if np.isfinite(v) else ""), fmt="",
                cmap=cmap, linewidths=0.5, cbar_kws={"label": unit}, **scale_kws)
    if wide:
        colorbar = ax.collections[0].colorbar.ax.yaxis
        colorbar.set_major_locator(LogLocator(subs=(1, 2, 5)))
        colorbar.set_major_formatter(PLAIN)
        colorbar.set_minor_formatter(NullFormatter())
    ax.set_facecolor("0.92")  # cells without an ok measurement
    status = tbptt[~tbptt["ok"]].pivot(index="k1", columns="k2", values="status").reindex(**grid)
    for (i, j), s in np.ndenumerate(status.to_numpy()):
        if isinstance(s, str):
            ax.text(j + 0.5, i + 0.5, s, ha="center", va="center", color="firebrick", fontsize=9)
    ax.set_yticklabels([f"{k:g}" for k in k1s], rotation=0)
    ax.set_xticklabels([f"{k:g}" for k in k2s])
    ax.set_ylabel("k1 (segment length, steps)")
    ax.set_xlabel("k2 (steps backpropagated)")


def plot_truncation_heatmaps(table: pd.DataFrame, out_stem) -> list[Path]:
    """k1 x k2 heatmaps at the truncation T: time and framework-native peak, one row per framework."""
    T, rows = truncation_block(table)
    tbptt = rows[rows["method"] == "tbptt"]
    k1s, k2s = sorted(tbptt["k1"].unique()), sorted(tbptt["k2"].unique())
    impls = _impls(rows)
    fig = Figure(figsize=(10.5, 3.3 * len(impls) + 0.8), layout="constrained")
    axes = fig.subplots(len(impls), 2, squeeze=False)
    for (ax_time, ax_memory), impl in zip(axes, impls):
        bptt = rows[(rows["impl"] == impl) & (rows["method"] == "bptt") & rows["ok"]]
        time_ref = f" (BPTT: {bptt['time_median_s'].iloc[0]:.3g} s)" if len(bptt) else ""
        memory_ref = f" (BPTT: {bptt['framework_peak_bytes'].iloc[0] / MIB:.3g} MiB)" if len(bptt) else ""
        panel = tbptt[tbptt["impl"] == impl]
        _heatmap(ax_time, panel, "time_median_s", 1, "time per sequence (s)", "rocket_r", k1s, k2s)
        ax_time.set_title(f"{impl}: time per sequence{time_ref}", fontsize=10)
        _heatmap(ax_memory, panel, "framework_peak_bytes", MIB, "framework-native peak (MiB)", "mako_r", k1s, k2s)
        native = NATIVE_PEAK.get(impl, "framework-reported")
        ax_memory.set_title(f"{impl}: peak memory, {native}{memory_ref}", fontsize=10)
    r = rows.iloc[0]
    fig.suptitle(f"TBPTT(k1, k2) at T={T}, B={r['B']:g}, H={r['H']:g} ({r['dtype']}): every k1 steps, "
                 "backpropagate k2 steps\ngrey: not measured, or failed (status in red)",
                 fontsize=10)
    return save_figure(fig, out_stem)


def _peak_text(rows: pd.DataFrame) -> str:
    peaks = rows["peak_gflops_per_s"].dropna()
    if peaks.empty:
        return "unknown"
    low, high = peaks.min(), peaks.max()
    return f"{low:.0f} GFLOP/s" if np.isclose(low, high, rtol=1e-3) else f"{low:.0f}–{high:.0f} GFLOP/s"


def _draw_peak_fraction(ax, panel: pd.DataFrame, palette: dict) -> str:
    """Lines per setting, and the framework's own GEMM rate as a fraction of the peak: its ceiling."""
    for setting, line in panel[panel["ok"]].sort_values("T").groupby("setting"):
        ax.plot(line["T"], line["peak_fraction"], color=palette[setting], marker="o", markersize=4)
    own_gemm = (panel["impl_gemm_gflops_per_s"] / panel["peak_gflops_per_s"]).median()
    if not np.isfinite(own_gemm):
        return ""
    ax.axhline(own_gemm, color="0.3", linestyle="--", linewidth=1)
    return f"dashed: its own GEMM, {100 * own_gemm:.0f}% of peak"


def plot_peak_fraction(table: pd.DataFrame, out_stem) -> list[Path]:
    """Achieved fraction of the measured matmul peak vs T, one line per setting, one panel per framework."""
    fig, axes, rows = _per_framework(table, _draw_peak_fraction)
    if rows.loc[rows["ok"], "peak_fraction"].max() > 0.5:  # the ceiling is worth drawing only when near
        for ax in axes:
            ax.axhline(1.0, color="0.4", linestyle=":")
    axes[0].set_ylim(bottom=0)
    axes[0].yaxis.set_major_formatter(PercentFormatter(1.0))
    axes[0].set_ylabel("achieved / peak matmul GFLOP/s")
    fig.suptitle(f"Achieved fraction of the machine's measured matmul peak ({_peak_text(rows)})\n"
                 f"FLOPs: cost-model matmul FLOPs (TBPTT counts its recomputed windows); {_config_text(rows)}",
                 fontsize=10)
    return save_figure(fig, out_stem)


def _per_impl(rows: pd.DataFrame, value) -> str:
    """'numpy 0.12 s, torch 0.05 s' for one row per framework, value(row) -> text, in framework order."""
    by_impl = rows.set_index("impl")
    return ", ".join(f"{i} {value(by_impl.loc[i])}" for i in _impls(rows))


def _seconds(row) -> str:
    return f"{row['time_median_s']:.3g} s"


def _percent_of_peak(row) -> str:
    return f"{100 * row['peak_fraction']:.3g}% ({row['setting']} at T={row['T']:g})"


def _time_caption(table) -> str:
    rows = scaling_block(table)
    ok = rows[rows["ok"]]
    T = ok["T"].max()
    at_T = ok[ok["T"] == T]
    parts = [f"{s}: {_per_impl(at_T[at_T['setting'] == s], _seconds)}" for s in _settings(at_T)]
    return f"At T={T:g}, one pass over one sequence takes: " + "; ".join(parts) + "." + _failed_cells(rows)


def _growth(line: pd.DataFrame, column: str) -> tuple[float, int, int]:
    """(value at the largest T / value at the smallest T, smallest T, largest T) over a setting's cells."""
    line = line.dropna(subset=[column]).sort_values("T")
    return line[column].iloc[-1] / line[column].iloc[0], line["T"].iloc[0], line["T"].iloc[-1]


def _memory_caption(table) -> str:
    rows = scaling_block(table)
    ok = rows[rows["ok"]]
    text = []
    bptt = rows[rows["method"] == "bptt"]
    measured = ok[(ok["method"] == "bptt") & ok["framework_peak_bytes"].notna()]
    if not measured.empty:
        grows = []
        for impl in _impls(measured):
            ratio, T0, T1 = _growth(measured[measured["impl"] == impl], "framework_peak_bytes")
            grows.append(f"×{ratio:.3g} ({impl}, T={T0:g}→{T1:g})")
        model, T0, T1 = _growth(bptt.drop_duplicates("T"), "analytic_activation_bytes")
        text.append(f"BPTT grows {', '.join(grows)}, against ×{model:.3g} in the model (T={T0:g}→{T1:g})")
    flat = ok[(ok["method"] == "tbptt") & ok["framework_peak_bytes"].notna()]
    spread = flat.groupby(["setting", "impl"])["framework_peak_bytes"].agg(lambda v: v.max() / v.min() - 1)
    if len(spread):
        (setting, impl), worst = spread.idxmax(), spread.max()
        text.append(f"every TBPTT setting stays within {100 * worst:.3g}% of its smallest value across T "
                    f"(largest spread: {setting}, {impl})")
    if not text:
        return "No framework-native peak memory was measured." + _failed_cells(rows)
    return "Framework-native peak memory: " + "; ".join(text) + "." + _failed_cells(rows)


def _truncation_caption(table) -> str:
    T, rows = truncation_block(table)
    tbptt = rows[rows["method"] == "tbptt"]
    ok = tbptt[tbptt["ok"]]
    parts = []
    for impl in _impls(ok):
        mine = ok[ok["impl"] == impl]
        fastest = mine.loc[mine["time_median_s"].idxmin()]
        memory = mine["framework_peak_bytes"] / MIB
        parts.append(f"{impl} {mine['time_median_s'].min():.3g}–{mine['time_median_s'].max():.3g} s "
                     f"(fastest {fastest['setting']}), {memory.min():.3g}–{memory.max():.3g} MiB")
    n_pairs = len(tbptt.drop_duplicates(["k1", "k2"]))
    return (f"At T={T}, over {n_pairs} (k1, k2) pairs, time per sequence and framework-native peak span: "
            + "; ".join(parts) + "." + _failed_cells(tbptt))


def _peak_caption(table) -> str:
    rows = scaling_block(table)
    ok = rows[rows["ok"] & rows["peak_fraction"].notna()]
    best = ok.loc[ok.groupby("impl")["peak_fraction"].idxmax()]
    reached = _per_impl(best, _percent_of_peak)
    return (f"Against the measured matmul peak of {_peak_text(rows)}, the best cell of each framework reaches "
            f"{reached}." + _failed_cells(rows))


def summarize(table: pd.DataFrame) -> dict[str, str]:
    """One plain-text caption sentence per figure, keyed by the figure's name (plot_<name>)."""
    return {
        "time_vs_T": _time_caption(table),
        "memory_vs_T": _memory_caption(table),
        "truncation_heatmaps": _truncation_caption(table),
        "peak_fraction": _peak_caption(table),
    }
