"""Figures of the benchmark table and what each says (numbers from `analysis.benchmarks`).

Cells whose status is not 'ok' stay out of curves and colour scales, but are counted in
panel titles (or named in heatmap cells) and in the findings, so failures stay visible.
A table holds one configuration (B, H, D, O, dtype, threads); select it before plotting.
Figures are built without pyplot (no global state, no GUI backend); PNG renders with Agg.
Each draw_* returns the Figure; plot_* saves it as out_stem.png and out_stem.pdf.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator, PercentFormatter

from bptt_bench.analysis import benchmarks as analysis
from bptt_bench.analysis import settings
from bptt_bench.analysis.benchmarks import MODEL_MEMORY, NATIVE_MEMORY, SHARED_MEMORY
from bptt_bench.figures import note_figure, save_figure, style
from bptt_bench.figures.style import REFERENCE, SettingStyle, impl_order, legend, native_memory_label

MIB = 2**20
SHARED_LABEL = "peak RSS above the process baseline"
MODEL_LABEL = "analytic model: states kept for the backward x B x H x itemsize"
BARS = "bars: median ± half the interquartile range of the timed repeats"


def _repeats(counts: pd.Series) -> str:
    """'5', or '3-5' where cells stopped early (benchmark.min_repeats, repeat_time_s)."""
    low, high = int(counts.min()), int(counts.max())
    return f"{high}" if low == high else f"{low}-{high}"
FLAGGED = dict(marker="o", s=120, facecolors="none", edgecolors="red", linewidths=1.2, zorder=6)


def _style(rows: pd.DataFrame, setting_style: SettingStyle | None) -> SettingStyle:
    order = settings.table_order(rows)
    return SettingStyle(order) if setting_style is None else setting_style.extended(order)


def _config_text(rows: pd.DataFrame) -> str:
    r = rows.iloc[0]
    threads = int(r["threads"])
    return f"{style.sizes_text(r)}, {threads} thread{'s' if threads > 1 else ''}"


def _mode_text(rows: pd.DataFrame) -> str:
    """What one timed repeat computes: the rows' `mode`, or the older tables' fixed description."""
    if "mode" in rows and rows["mode"].notna().any():
        return "timed: " + ", ".join(sorted(set(rows["mode"].dropna().astype(str)))) + " on one sequence"
    return "timed: one pass over one sequence (BPTT: loss + gradient; TBPTT: training)"


def _not_plotted(rows: pd.DataFrame) -> str:
    """'2 cells not plotted: 1 oom, 1 timeout', or '' when every cell is ok."""
    counts = analysis.status_counts(rows)
    if not counts:
        return ""
    n = sum(counts.values())
    return f"{n} cell{'s' if n > 1 else ''} not plotted: " + ", ".join(f"{k} {s}" for s, k in counts.items())


def _dodge(drawn: list[str]) -> dict[str, float]:
    """A factor per setting that shifts its points slightly along the log2 T axis, so equal values stay visible."""
    n = len(drawn)
    return {s: 2 ** (0.04 * (i - (n - 1) / 2)) for i, s in enumerate(drawn)}


DODGE_NOTE = "points offset slightly along T so that equal values stay visible"


def _T_axis(ax, rows: pd.DataFrame) -> None:
    """Log2 axis with a plain tick at every T of the block."""
    Ts = sorted(rows["T"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(Ts, [f"{T:g}" for T in Ts])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("sequence length T (steps)")


def _panels(rows: pd.DataFrame, n_rows: int = 1, sharey="all") -> tuple[Figure, np.ndarray, list[str]]:
    impls = impl_order(rows["impl"])
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(4.2 * len(impls) + 2.6, 3.9 * n_rows + 0.6), layout="constrained")
        axes = fig.subplots(n_rows, len(impls), sharex=True, sharey=sharey, squeeze=False)
    return fig, axes, impls


def _panel_title(ax, impl: str, panel: pd.DataFrame, drawn: list[str], extra: str = "") -> None:
    """Framework name, then one line per note: failed cells, settings outside its grids (config), extra."""
    absent = [s for s in drawn if s not in set(panel["setting"])]
    notes = [extra, _not_plotted(panel), absent and "not in its grids: " + ", ".join(absent)]
    ax.set_title("\n".join([impl] + [n for n in notes if n]), fontsize=10)


def _flag(ax, panel: pd.DataFrame, y: str, shift: dict) -> int:
    """Ring the ok 1-thread cells that used more than one core; return how many."""
    flagged = analysis.cpu_flagged(panel)
    if len(flagged):
        ax.scatter(flagged["T"] * flagged["setting"].map(shift), flagged[y], **FLAGGED)
    return len(flagged)


def _flag_handle() -> Line2D:
    return Line2D(
        [],
        [],
        linestyle="",
        marker="o",
        markersize=10,
        markerfacecolor="none",
        markeredgecolor="red",
        label=f"used more cores than its threads\n(CPU / wall > {analysis.CPU_PER_WALL_LIMIT} x threads)",
    )


def _or_note(draw, title: str, table: pd.DataFrame, setting_style: SettingStyle | None) -> Figure:
    """draw(table, setting_style), or a figure saying why this study has nothing for it."""
    try:
        return draw(table, setting_style)
    except analysis.NothingToDraw as why:
        return note_figure(title, str(why))


# -- time ---------------------------------------------------------------------------------


def draw_time_vs_T(table: pd.DataFrame, setting_style: SettingStyle | None = None) -> Figure:
    """Time per sequence (s) vs T, log-log: one line per setting, one panel per framework, shared axes."""
    rows = analysis.scaling_block(table)
    look = _style(rows, setting_style)
    drawn = settings.table_order(rows)
    fig, axes, impls = _panels(rows)
    flagged, shift = 0, _dodge(drawn)
    for ax, impl in zip(axes[0], impls):
        panel = rows[rows["impl"] == impl]
        for setting in drawn:
            line = panel[(panel["setting"] == setting) & panel["ok"]].sort_values("T")
            if line.empty:
                continue
            median = line["time_median_s"]
            half_iqr = (line["time_iqr_s"] / 2).fillna(0)
            bars = ax.errorbar(
                line["T"] * shift[setting],
                median,
                yerr=[half_iqr.clip(upper=0.99 * median), half_iqr],
                color=look.colour(setting),
                marker=look.marker(setting),
                markersize=5,
                capsize=2,
            )
            style.tag(list(bars.lines[:1]) + list(bars.lines[2]), setting)
        flagged += _flag(ax, panel, "time_median_s", shift)
        _panel_title(ax, impl, panel, drawn)
        _T_axis(ax, rows)
    style.log_axis(axes[0, 0], "y")
    axes[0, 0].set_ylabel("time per sequence (s)")
    repeats = rows.loc[rows["ok"], "n_repeats"]
    fig.suptitle(
        f"Time per sequence against T — {_config_text(rows)}\n{_mode_text(rows)}; "
        f"{BARS.replace('timed repeats', _repeats(repeats) + ' timed repeats' if len(repeats) else 'timed repeats')}",
        fontsize=10,
    )
    legend(fig, [look.handle(s) for s in drawn] + ([_flag_handle()] if flagged else []))
    return fig


def plot_time_vs_T(table: pd.DataFrame, out_stem, setting_style: SettingStyle | None = None) -> list[Path]:
    return save_figure(_or_note(draw_time_vs_T, "Time per sequence against T", table, setting_style), out_stem)


# -- memory -------------------------------------------------------------------------------


def _memory_lines(ax, panel: pd.DataFrame, column: str, drawn: list[str], look: SettingStyle) -> int:
    """Measured `column` (solid, ok cells, > 0) and the model (dotted, every cell) per setting; returns
    the number of measured values <= 0 (not drawable on a log axis)."""
    hidden, shift = 0, _dodge(drawn)
    for setting in drawn:
        cells_of = panel[panel["setting"] == setting].sort_values("T")
        measured = cells_of[cells_of["ok"]]
        hidden += int((measured[column] <= 0).sum())
        measured = measured[measured[column] > 0]
        colour = look.colour(setting)
        line = ax.plot(
            measured["T"] * shift[setting],
            measured[column] / MIB,
            color=colour,
            marker=look.marker(setting),
            markersize=5,
        )
        model = ax.plot(
            cells_of["T"], cells_of[MODEL_MEMORY] / MIB, color=colour, linestyle=":", linewidth=1.2
        )
        style.tag(line + model, setting)
    return hidden


def draw_memory_vs_T(table: pd.DataFrame, setting_style: SettingStyle | None = None) -> Figure:
    """Peak memory (MiB) vs T, log-log, beside the analytic model (dotted).

    Top row: peak RSS above baseline, measured alike in every framework, on one shared y axis.
    Bottom row: each framework's native figure on its own y axis (it counts different things).
    """
    rows = analysis.scaling_block(table)
    look = _style(rows, setting_style)
    drawn = settings.table_order(rows)
    fig, axes, impls = _panels(rows, n_rows=2, sharey=False)
    for ax in axes[0, 1:]:
        ax.sharey(axes[0, 0])
    for column, impl in enumerate(impls):
        panel = rows[rows["impl"] == impl]
        hidden = _memory_lines(axes[0, column], panel, SHARED_MEMORY, drawn, look)
        on_device = bool(analysis.impl_and_device(impl)[1])  # a GPU's rows: RSS is the host's there
        notes = [on_device and "the host's RSS; device memory below",
                 hidden and f"{hidden} values <= 0 B not drawn"]
        _panel_title(axes[0, column], impl, panel, drawn, "\n".join(n for n in notes if n))
        native = _memory_lines(axes[1, column], panel, NATIVE_MEMORY, drawn, look)
        title = f"{impl} native:" + ("\n" if on_device else " ") + f"{native_memory_label(impl)} (own axis)"
        axes[1, column].set_title(
            title + (f"\n{native} values <= 0 B not drawn" if native else ""), fontsize=10
        )
        for ax in axes[:, column]:
            _T_axis(ax, rows)
        style.log_axis(axes[1, column], "y")
    style.log_axis(axes[0, 0], "y")
    for ax in axes[0, 1:]:
        ax.tick_params(labelleft=False)
    axes[0, 0].set_ylabel(f"{SHARED_LABEL} (MiB)\nshared by every framework", fontsize=9)
    axes[1, 0].set_ylabel("framework-native peak (MiB)\ncompare within a framework only", fontsize=9)
    for ax in axes[0]:
        ax.set_xlabel("")
    fig.suptitle(f"Peak memory of one timed pass against T — {_config_text(rows)}\n{DODGE_NOTE}", fontsize=10)
    legend(
        fig,
        [look.handle(s) for s in drawn]
        + [
            Line2D([], [], color=REFERENCE, marker="o", label="measured (top: RSS; bottom: native)"),
            style.reference_handle(
                "analytic model, the setting's colour\n(states kept for the backward\n" "x B x H x itemsize)"
            ),
        ],
    )
    return fig


def plot_memory_vs_T(table: pd.DataFrame, out_stem, setting_style: SettingStyle | None = None) -> list[Path]:
    return save_figure(_or_note(draw_memory_vs_T, "Peak memory against T", table, setting_style), out_stem)


# -- truncation heatmaps --------------------------------------------------------------------


def _norm(values: list[np.ndarray]) -> Normalize | None:
    """One colour scale over the finite positive values of several panels: log when they span >= 3x."""
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values]) if values else np.array([])
    if finite.size == 0:
        return None
    low, high = finite.min(), finite.max()
    if high >= 3 * low:
        return LogNorm(low, high)
    return Normalize(low * 0.95, high * 1.05) if high > low else Normalize(low * 0.9, low * 1.1)


def _colourbar(fig, mappable, axes, label: str) -> None:
    """A colourbar whose every tick is labelled, in plain numbers."""
    bar = fig.colorbar(mappable, ax=axes, label=label, shrink=0.9)
    low, high = mappable.norm.vmin, mappable.norm.vmax
    if isinstance(mappable.norm, LogNorm):
        for subs in ((1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)):
            ticks = LogLocator(subs=subs).tick_values(low, high)
            ticks = ticks[(ticks >= low) & (ticks <= high)]
            if len(ticks) >= 3:
                break
        else:
            ticks = np.array([low, high])
    else:
        ticks = MaxNLocator(4).tick_values(low, high)
        ticks = ticks[(ticks >= low) & (ticks <= high)]
    bar.ax.yaxis.set_minor_locator(NullLocator())
    bar.set_ticks(ticks, labels=[f"{t:.3g}" for t in ticks])


def _grid_values(tbptt: pd.DataFrame, column: str, scale: float, k1s, k2s) -> np.ndarray:
    ok = tbptt[tbptt["ok"]]
    return (
        ok.pivot(index="k1", columns="k2", values=column).reindex(index=k1s, columns=k2s) / scale
    ).to_numpy(float)


def _heatmap(ax, values: np.ndarray, status: np.ndarray, norm, cmap: str, k1s, k2s):
    """k1 x k2 cells coloured by value (grey: no ok measurement, its status written in red)."""
    colours = sns.color_palette(cmap, as_cmap=True).with_extremes(bad="0.88")
    image = ax.imshow(np.ma.masked_invalid(values), norm=norm, cmap=colours, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            shade = colours(norm(v)) if norm is not None else (1, 1, 1, 1)
            dark = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] < 0.5
            ax.text(
                j, i, f"{v:.3g}", ha="center", va="center", fontsize=9, color="white" if dark else "black"
            )
        elif isinstance(status[i, j], str):
            ax.text(j, i, status[i, j], ha="center", va="center", color="firebrick", fontsize=9)
    ax.set_xticks(range(len(k2s)), [f"{k:g}" for k in k2s])
    ax.set_yticks(range(len(k1s)), [f"{k:g}" for k in k1s])
    ax.set_xlabel("k2 (steps backpropagated)")
    ax.set_ylabel("k1 (steps per segment)")
    ax.grid(False)
    return image


def draw_truncation_heatmaps(table: pd.DataFrame, setting_style: SettingStyle | None = None) -> Figure:
    """k1 x k2 heatmaps at the truncation T, one row per framework: time and peak RSS on colour scales
    shared by all frameworks; the native peak on each framework's own scale."""
    T, rows = analysis.truncation_block(table)
    tbptt = rows[rows["method"] == "tbptt"]
    k1s, k2s = sorted(tbptt["k1"].unique()), sorted(tbptt["k2"].unique())
    impls = impl_order(rows["impl"])
    columns = (
        ("time_median_s", 1.0, "time per sequence (s)", "rocket_r", True),
        (SHARED_MEMORY, MIB, f"{SHARED_LABEL} (MiB)", "mako_r", True),
        (NATIVE_MEMORY, MIB, "native peak (MiB)", "crest", False),
    )
    fig = Figure(figsize=(15, 3.1 * len(impls) + 1.0), layout="constrained")
    axes = fig.subplots(len(impls), 3, squeeze=False)
    for col, (column, scale, label, cmap, shared) in enumerate(columns):
        values = [_grid_values(tbptt[tbptt["impl"] == impl], column, scale, k1s, k2s) for impl in impls]
        norm = _norm(values) if shared else None
        for row, impl in enumerate(impls):
            panel = tbptt[tbptt["impl"] == impl]
            failed = panel[~panel["ok"]].pivot(index="k1", columns="k2", values="status")
            status = failed.reindex(index=k1s, columns=k2s).to_numpy(object)
            own = norm if shared else _norm([values[row]])
            image = _heatmap(axes[row, col], values[row], status, own, cmap, k1s, k2s)
            bptt = rows[(rows["impl"] == impl) & (rows["method"] == "bptt") & rows["ok"]]
            reference = f"; BPTT {bptt[column].iloc[0] / scale:.3g}" if len(bptt) else ""
            what = ["time (s)", "peak RSS (MiB)", f"native: {native_memory_label(impl)} (MiB)"][col]
            axes[row, col].set_title(f"{impl}: {what}{reference}", fontsize=10)
            if own is not None and (not shared or row == 0):
                _colourbar(
                    fig,
                    image,
                    axes[:, col] if shared else axes[row, col],
                    label if shared else f"{impl} {label}, own scale",
                )
    fig.suptitle(
        f"TBPTT(k1, k2) at T={T} — {_config_text(rows)}: every k1 steps, backpropagate k2 steps\n"
        "time and peak RSS: one colour scale for all frameworks; native peak: each framework its own. "
        "Grey: not measured, or failed (status in red)",
        fontsize=10,
    )
    return fig


def plot_truncation_heatmaps(
    table: pd.DataFrame, out_stem, setting_style: SettingStyle | None = None
) -> list[Path]:
    return save_figure(_or_note(draw_truncation_heatmaps, "TBPTT(k1, k2) heatmaps", table, setting_style), out_stem)


# -- fraction of peak -----------------------------------------------------------------------


def draw_peak_fraction(table: pd.DataFrame, setting_style: SettingStyle | None = None) -> Figure:
    """Achieved fraction of the machine's measured matmul peak vs T, one line per setting, one panel per
    framework; dashed: the framework's own large-GEMM rate, the ceiling of its per-step matmuls."""
    rows = analysis.scaling_block(table)
    look = _style(rows, setting_style)
    drawn = settings.table_order(rows)
    fig, axes, impls = _panels(rows)
    top, flagged, shift, ceilings = 0.0, 0, _dodge(drawn), 0
    for ax, impl in zip(axes[0], impls):
        panel = rows[rows["impl"] == impl]
        for setting in drawn:
            line = panel[(panel["setting"] == setting) & panel["ok"]].sort_values("T")
            if len(line):
                style.tag(
                    ax.plot(
                        line["T"] * shift[setting],
                        line["peak_fraction"],
                        color=look.colour(setting),
                        marker=look.marker(setting),
                        markersize=5,
                    ),
                    setting,
                )
                top = max(top, 1.1 * line["peak_fraction"].max())
        ceiling = analysis.own_gemm_fraction(panel)
        if np.isfinite(ceiling):
            ax.axhline(ceiling, color=REFERENCE, linestyle="--", linewidth=1.2)
            top, ceilings = max(top, 1.1 * ceiling), ceilings + 1
        flagged += _flag(ax, panel, "peak_fraction", shift)
        _panel_title(
            ax, impl, panel, drawn, np.isfinite(ceiling) and f"own GEMM: {100 * ceiling:.0f}% of peak"
        )
        _T_axis(ax, rows)
    axes[0, 0].set_ylim(0, top or 1.0)
    axes[0, 0].yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes[0, 0].set_ylabel("achieved / machine's peak matmul FLOP rate (%)")
    low, high = analysis.peak_range(rows)
    peak = (
        "unknown"
        if not np.isfinite(low)
        else (f"{low:.0f}" if np.isclose(low, high, rtol=1e-3) else f"{low:.0f}–{high:.0f}") + " GFLOP/s"
    )
    fig.suptitle(
        f"Achieved FLOP rate as a fraction of the machine's measured matmul peak ({peak} = 100%)\n"
        f"FLOPs: cost-model matmul FLOPs (TBPTT counts its recomputed windows, checkpointed BPTT its recomputed segments); "
        f"{_config_text(rows)}; "
        f"{DODGE_NOTE}",
        fontsize=10,
    )
    legend(
        fig,
        [look.handle(s) for s in drawn]
        + (
            [style.reference_handle("the framework's own large-GEMM\nrate (its ceiling)", "--")]
            if ceilings
            else []
        )
        + ([_flag_handle()] if flagged else []),
    )
    return fig


def plot_peak_fraction(
    table: pd.DataFrame, out_stem, setting_style: SettingStyle | None = None
) -> list[Path]:
    return save_figure(_or_note(draw_peak_fraction, "Fraction of the matmul peak", table, setting_style), out_stem)


# -- findings -----------------------------------------------------------------------------


def _records(frame: pd.DataFrame, formats: dict, headers: dict | None = None) -> dict:
    """{'columns': [...], 'rows': [[text, ...]]} of a table, each column formatted by formats[column] and
    headed by headers[column] (default: its name)."""
    headers = headers or {}
    return {
        "columns": [headers.get(c, c) for c in formats],
        "rows": [[fmt(row[c]) for c, fmt in formats.items()] for _, row in frame.iterrows()],
    }


def _g3(v) -> str:
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3g}"


def _failures(rows: pd.DataFrame) -> list[str]:
    return [
        f"{r.impl} {r.setting} at T={r.T:g}: {r.status} ({r.reason})"
        for r in analysis.not_ok(rows).itertuples()
    ]


def summarize(table: pd.DataFrame) -> dict[str, dict]:
    """Per figure (the name after plot_): 'title', 'says' (one sentence), 'table' (columns, rows of text), 'notes';
    a figure this study has no cells for says why."""
    out = {}
    for names, part in ((SCALING_FIGURES, _summarize_scaling), (("truncation_heatmaps",), _summarize_truncation)):
        try:
            out |= part(table)
        except analysis.NothingToDraw as why:
            out |= {name: {"title": name.replace("_", " "), "says": f"Nothing to draw in this study: {why}.",
                           "table": {"columns": [], "rows": []}, "notes": []} for name in names}
    return {name: out[name] for name in FIGURES} | out  # the figures' order, then the extra entries


FIGURES = ("time_vs_T", "memory_vs_T", "truncation_heatmaps", "peak_fraction")
SCALING_FIGURES = ("time_vs_T", "memory_vs_T", "peak_fraction")


def _summarize_scaling(table: pd.DataFrame) -> dict[str, dict]:
    rows = analysis.scaling_block(table)
    if not rows["ok"].any():
        raise analysis.NothingToDraw("no cell of the scaling block ran ok")
    times = analysis.times_at_largest_T(rows)
    T_max = int(rows.loc[rows["ok"], "T"].max())
    failed_at_T = rows[~rows["ok"] & (rows["T"] == T_max)]
    status = failed_at_T.pivot(index="setting", columns="impl", values="status").reindex_like(times)
    # a setting whose grid stops below T_max (the gated cells) has no row here, only a note
    shorter = times.index[times.isna().all(axis=1) & status.isna().all(axis=1)]
    time_table = times.map(_g3).mask(times.isna(), status.fillna("not run")).drop(index=shorter).reset_index()
    shorter_note = [
        f"{setting}: no cell at T={T_max} (its cells stop at T={rows.loc[rows['setting'] == setting, 'T'].max():g})"
        for setting in shorter
    ]
    memory = analysis.memory_growth(rows)
    model = memory[memory["measure"] == MODEL_MEMORY]
    model_ratios = model.set_index(["setting", "impl"])["ratio"].to_dict()
    measured = memory[memory["measure"] != MODEL_MEMORY].assign(
        model_ratio=lambda m: [
            model_ratios.get((setting, impl), np.nan) for setting, impl in zip(m["setting"], m["impl"])
        ],
        what=lambda m: [
            SHARED_LABEL if c == SHARED_MEMORY else f"native: {native_memory_label(i)}"
            for c, i in zip(m["measure"], m["impl"])
        ],
    )
    spread = analysis.flat_spread(rows, SHARED_MEMORY)
    best = analysis.best_peak_fraction(rows)
    flagged = analysis.cpu_flagged(rows)
    flag_note = (
        [
            f"{len(flagged)} cells used more cores than their threads (CPU/wall > "
            f"{analysis.CPU_PER_WALL_LIMIT} x threads), ringed in red: "
            + ", ".join(f"{r.impl} {r.setting} at T={r.T:g}" for r in flagged.itertuples())
        ]
        if len(flagged)
        else []
    )
    worst = spread.loc[spread["spread"].idxmax()] if len(spread) else None
    return {
        "time_vs_T": {
            "title": f"Time per sequence at T={T_max} ({_config_text(rows)})",
            "says": f"Median time per sequence of each setting at the largest T, in seconds ({_mode_text(rows)}).",
            "table": _records(time_table, {"setting": str} | {i: str for i in impl_order(times.columns)}),
            "notes": _failures(rows) + shorter_note + flag_note,
        },
        "memory_vs_T": {
            "title": "How BPTT's peak memory grows with T",
            "says": (
                "BPTT's measured peak from the smallest to the largest T of its ok cells, against the analytic "
                "model's growth over the same T"
                + (
                    f"; a TBPTT setting's peak RSS varies across T by at most ×{1 + worst['spread']:.3g} "
                    f"({worst['setting']}, {worst['impl']})."
                    if worst is not None
                    else "."
                )
            ),
            "table": _records(
                measured,
                {
                    "setting": str,
                    "impl": str,
                    "what": str,
                    "T_low": str,
                    "T_high": str,
                    "low": lambda b: _g3(b / MIB),
                    "high": lambda b: _g3(b / MIB),
                    "ratio": lambda r: f"×{r:.3g}",
                    "model_ratio": lambda r: f"×{r:.3g}",
                },
                {
                    "what": "measure",
                    "T_low": "from T",
                    "T_high": "to T",
                    "low": "MiB at from T",
                    "high": "MiB at to T",
                    "ratio": "growth",
                    "model_ratio": "model's growth",
                },
            ),
            "notes": [
                "The native figures count different things per framework: compare each only with itself."
            ]
            + _failures(rows),
        },
        "peak_fraction": {
            "title": "Fraction of the machine's matmul peak",
            "says": "The best ok cell of each framework, against the machine's peak and the framework's own GEMM rate.",
            "table": _records(
                best,
                {
                    "impl": str,
                    "setting": str,
                    "T": lambda t: f"{t:g}",
                    "peak_fraction": lambda f: f"{100 * f:.3g}%",
                    "own_gemm_fraction": lambda f: f"{100 * f:.3g}%" if np.isfinite(f) else "",
                },
                {
                    "setting": "best cell",
                    "peak_fraction": "of the machine's peak",
                    "own_gemm_fraction": "its own GEMM rate, of the machine's peak",
                },
            ),
            "notes": flag_note,
        },
    } | _checkpointing(rows)


def _summarize_truncation(table: pd.DataFrame) -> dict[str, dict]:
    T, block = analysis.truncation_block(table)
    ranges = analysis.truncation_ranges(block)
    return {
        "truncation_heatmaps": {
            "title": f"The k1 x k2 grid at T={T}",
            "says": "Span of time per sequence and of peak RSS over the grid's ok TBPTT cells, per framework.",
            "table": _records(
                ranges,
                {
                    "impl": str,
                    "n_ok": str,
                    "time_low_s": _g3,
                    "time_high_s": _g3,
                    "fastest": str,
                    "memory_low_bytes": lambda b: _g3(b / MIB),
                    "memory_high_bytes": lambda b: _g3(b / MIB),
                },
                {
                    "n_ok": "ok cells",
                    "time_low_s": "fastest (s)",
                    "time_high_s": "slowest (s)",
                    "fastest": "fastest setting",
                    "memory_low_bytes": "lowest peak RSS (MiB)",
                    "memory_high_bytes": "highest peak RSS (MiB)",
                },
            ),
            "notes": _failures(block),
        },
    }


def _percent(v) -> str:
    return "" if not np.isfinite(v) else f"{100 * v:.0f}%"


def _checkpointing(rows: pd.DataFrame) -> dict:
    """{'checkpointing': entry}: checkpointed BPTT at c = ceil(sqrt(T)) against BPTT, beside Chen's and
    Gruslys's figures; {} for a study without it."""
    if not rows["setting"].str.contains(settings.SQRT_SEGMENT, regex=False).any():
        return {}
    costs = analysis.checkpoint_costs(rows)
    Ts = ", ".join(f"{T:g}" for T in sorted(set(costs["T"]))) or "no T (no ok pair)"
    return {"checkpointing": {
        "title": "Checkpointed BPTT against BPTT: memory saved, time added",
        "figure": "time_vs_T.png, memory_vs_T.png",
        "says": (
            f"At T = {Ts}, checkpointed BPTT with c = ⌈√T⌉ against BPTT at the same T, per framework: the "
            "memory it saves (1 − its peak / BPTT's) and the time it adds (its time / BPTT's − 1). "
            f"{analysis.CHEN_2016}; {analysis.GRUSLYS_2016}."
        ),
        "table": _records(
            costs,
            {
                "impl": str,
                "T": lambda t: f"{t:g}",
                "segment": lambda c: f"{c:g}",
                "memory_saved": _percent,
                "native_saved": _percent,
                "model_saved": _percent,
                "time_added": lambda v: "" if not np.isfinite(v) else f"{100 * v:+.0f}%",
            },
            {
                "segment": "c",
                "memory_saved": f"memory saved ({SHARED_LABEL})",
                "native_saved": "memory saved (framework-native peak)",
                "model_saved": "memory saved (analytic model)",
                "time_added": "time added",
            },
        ),
        "notes": [
            "Literature, for comparison: Gruslys et al. 2016 save 95% of memory for +33% time at T = 1000; "
            "Chen et al. 2016 pay one extra forward pass for O(√T) memory (if a backward costs about two "
            "forwards, one more forward is about +33% time).",
            "Peak RSS includes the parameters, inputs and the framework's own working memory, which "
            "checkpointing does not shrink; the analytic model counts the stored states alone.",
        ],
    }}
