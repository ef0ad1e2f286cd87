"""Figures of the learning experiments (training, gradient-bias, gradient-decay tables) and what each says.

Numbers come from `analysis.learning`; these functions only draw and word them. A run
whose last row says 'diverged' is drawn up to its last finite loss and marked there with
a cross (in the learnable-lag figure, a cross at accuracy 0). draw_* returns the Figure;
plot_* saves it as out_stem.png and out_stem.pdf; summarize_* returns the findings entry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import SymmetricalLogLocator

from bptt_bench.analysis import learnable_lag as lag_analysis
from bptt_bench.analysis import learning as analysis
from bptt_bench.analysis import settings
from bptt_bench.analysis.settings import CELL_ORDER
from bptt_bench.experiments.training import RUN
from bptt_bench.figures import save_figure, style
from bptt_bench.figures.style import PLAIN, REFERENCE, SettingStyle, legend, native_memory_label

# Re-exported for older callers; new code imports them from bptt_bench.analysis.learning.
LEARNED, pareto_points, decay_per_step = (
    lag_analysis.LEARNED_MEAN,
    analysis.pareto_points,
    analysis.decay_per_step,
)
DIVERGED = dict(marker="X", s=90, edgecolor="black", linewidth=0.8, zorder=5)
BAND_ALPHA = 0.15


def _style(table: pd.DataFrame, setting_style: SettingStyle | None) -> SettingStyle:
    order = settings.table_order(table)
    return SettingStyle(order) if setting_style is None else setting_style.extended(order)


def _run_text(rows: pd.DataFrame) -> str:
    """'numpy, float32, H=32, B=16' of a training table's first row."""
    r = rows.iloc[0]
    return f"{r['impl']}, {r['dtype']}, H={r['H']:g}, B={r['B']:g}"


def _loss_unit(rows: pd.DataFrame) -> str:
    return "squared error" if rows["chance_accuracy"].isna().all() else "cross-entropy, nats"  # NaN: mse


def _diverged_handle(n: int, where: str = "at its last finite value") -> Line2D:
    return Line2D(
        [],
        [],
        color=REFERENCE,
        marker="X",
        linestyle="",
        markeredgecolor="black",
        label=f"diverged run ({n}), {where}",
    )


def _band_handle(label: str) -> Patch:
    return Patch(facecolor=REFERENCE, alpha=0.3, label=label)


def _diverged_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The last row of every diverged run, with `last_loss`, its last finite held-out loss."""
    marks = []
    for _, run in table.sort_values("sequences_seen").groupby(RUN, dropna=False, sort=False):
        if run["status"].iloc[-1] == "diverged":
            finite = run["loss"][np.isfinite(run["loss"])]
            marks.append(run.iloc[-1].to_dict() | {"last_loss": finite.iloc[-1] if len(finite) else np.nan})
    return pd.DataFrame(marks, columns=list(table.columns) + ["last_loss"])


# -- (a) learnable lag -----------------------------------------------------------------

REGIME_TITLES = {  # the question each regime asks (docs/experiments.md)
    "gradient": "gradient mode: one update per sequence\nfor every setting; only the gradient differs",
    "online_equal_data": "online, equal data:\nceil(T/k1) updates per sequence",
    "online_equal_updates": "online, equal updates:\nevery setting makes the same number",
}
CONTROL = "readout_only"


def _lag_labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """`settings.labelled` without the cell: the panels' rows name the cell, a setting keeps one colour."""
    return frame.assign(setting=settings.labelled(frame.drop(columns=["cell"], errors="ignore"))["setting"])


def draw_learnable_lag(table: pd.DataFrame, setting_style: SettingStyle | None = None) -> Figure:
    """Held-out test accuracy on delayed recall against the lag L: a panel per (regime, cell) that ran, a
    row per regime with a column per cell (rnn_tanh, lstm, gru); with one cell, one row of regimes. A cell
    that ran fewer regimes (learning.learnable_lag.per_cell) has no panel there: its row closes up and the
    title names what was not run.

    Per setting at its validation-chosen learning rate: the mean over seeds with its bootstrap interval
    (bars), dots per seed, a filled marker where the lag counts as learned (lag_analysis.learned). The
    readout-only control is the grey band (its interval) and dashed line: the floor without BPTT.
    A setting keeps its colour in every panel.
    """
    summary = _lag_labelled(lag_analysis.lag_summary(table))
    if summary.empty:
        raise ValueError("the learnable-lag table has no runs at a chosen learning rate")
    final = _lag_labelled(lag_analysis.final_runs(table[table["lr_chosen"].astype(bool)]))
    trained = settings.table_order(summary[~summary["method"].eq(CONTROL)].drop(columns="cell"))
    look = _style(summary[~summary["method"].eq(CONTROL)], setting_style)
    regimes = [r for r in REGIME_TITLES if r in set(summary["regime"])]
    cells = lag_analysis.cells(summary)
    ran = set(zip(summary["regime"], summary["cell"]))
    panels = [(regime, cell) for regime in regimes for cell in cells if (regime, cell) in ran]
    columns = len(cells) if len(cells) > 1 else len(regimes)
    rows = -(-len(panels) // columns)
    lags = sorted(summary["lag"].unique())
    step = min(np.diff(lags)) if len(lags) > 1 else 1.0
    offsets = {s: step * 0.09 * (i - (len(trained) - 1) / 2) for i, s in enumerate(trained)}
    fig = Figure(figsize=(4.8 * columns + 0.6, 4.2 * rows + 0.8), layout="constrained")
    grid = fig.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
    n_diverged = 0
    for i, (ax, (regime, cell)) in enumerate(zip(grid, panels)):
        mine = lag_analysis.of_cell(summary, cell)
        n_diverged += _lag_panel(ax, mine, lag_analysis.of_cell(final, cell), regime, trained, look, offsets)
        ax.set_xticks(lags, [f"{lag:g}" for lag in lags])
        title = REGIME_TITLES[regime]
        ax.set_title(f"{cell}: {title}" if len(cells) > 1 else title, fontsize=10)
        if i % columns == 0:
            ax.set_ylabel("held-out test accuracy\n(fraction of target steps)")
        if i + columns >= len(panels):  # nothing below it: this column's x axis
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("lag L (steps between a symbol and its recall)")
    for ax in grid[len(panels):]:
        ax.remove()
    r = final.iloc[0]
    fig.suptitle(
        f"Delayed recall, T={r['T']:g} — {r['dtype']}, H={r['H']:g}, B={r['B']:g}; "
        f"each setting at {rate_choice(table)}\nmean over {_count_range(summary['seeds'])} seeds with "
        f"{100 * lag_analysis.CONFIDENCE:g} % bootstrap interval, dots per seed; "
        "settings offset slightly along L" + _not_run(ran, regimes, cells),
        fontsize=10,
    )
    handles = [look.handle(s) for s in trained] + [
        Line2D([], [], color=REFERENCE, linestyle="", marker="o", markerfacecolor="white",
               label=f"open marker: not learned (learned: mean >= {lag_analysis.LEARNED_MEAN:g}, interval above chance)"),
        (_band_handle("readout only (control): the floor without BPTT")),
        style.reference_handle(f"chance (1/V = {summary['chance'].iloc[0]:.3g})"),
    ]
    legend(fig, handles + ([_diverged_handle(n_diverged, "counted as accuracy 0")] if n_diverged else []))
    return fig


def _not_run(ran: set, regimes: list[str], cells: list[str]) -> str:
    """A title line naming the (cell, regime) pairs without a panel, e.g. '\nnot run: lstm, gru in online,
    equal data and online, equal updates (learning.learnable_lag.per_cell)'; '' when every pair ran."""
    missing: dict[tuple[str, ...], list[str]] = {}
    for cell in cells:
        left_out = tuple(regime for regime in regimes if (regime, cell) not in ran)
        if left_out:
            missing.setdefault(left_out, []).append(cell)
    if not missing:
        return ""
    parts = [", ".join(names) + " in " + " and ".join(REGIME_TITLES[r].split(":")[0] for r in left_out)
             for left_out, names in missing.items()]
    return "\nnot run: " + "; ".join(parts) + " (learning.learnable_lag.per_cell)"


def rate_choice(table: pd.DataFrame) -> str:
    """How each setting's learning rate was picked: 'the learning rate chosen on validation', naming the
    cells that ran one rate only (learning.learnable_lag.per_cell), e.g. '...; lstm, gru: their one rate, 0.1'."""
    rates = table.assign(cell=lag_analysis.cell_column(table)).groupby("cell")["lr"].unique()
    single = {cell: rates[cell][0] for cell in lag_analysis.cells(table) if len(rates[cell]) == 1}
    if not single:
        return "the learning rate chosen on validation"
    if len(single) == len(rates):
        return "its one learning rate"
    alike = len(set(single.values())) == 1
    named = (f"{', '.join(single)}: their one rate, {next(iter(single.values())):g}" if alike
             else ", ".join(f"{cell}: its one rate, {lr:g}" for cell, lr in single.items()))
    return f"the learning rate chosen on validation ({named})"


def _count_range(counts: pd.Series) -> str:
    """'5', or '3-5' where the cells ran different numbers."""
    low, high = int(counts.min()), int(counts.max())
    return f"{low}" if low == high else f"{low}\u2013{high}"


def _lag_panel(ax, summary, final, regime, trained, look, offsets) -> int:
    """One cell's and regime's panel of the learnable-lag figure; returns its diverged runs."""
    shown, runs = summary[summary["regime"].eq(regime)], final[final["regime"].eq(regime)]
    n_diverged = 0
    floor = shown[shown["method"].eq(CONTROL)].sort_values("lag")
    if len(floor):
        ax.fill_between(floor["lag"], floor["low"], floor["high"], color=REFERENCE, alpha=0.3, linewidth=0)
        ax.plot(floor["lag"], floor["accuracy"], color=REFERENCE, linestyle="--", marker=".")
    for setting in trained:
        line = shown[shown["setting"].eq(setting)].sort_values("lag")
        if line.empty:
            continue
        x, colour = line["lag"] + offsets[setting], look.colour(setting)
        bars = ax.errorbar(
            x,
            line["accuracy"],
            yerr=[(line["accuracy"] - line["low"]).clip(lower=0), (line["high"] - line["accuracy"]).clip(lower=0)],
            color=colour,
            linewidth=1.4,
            capsize=3,
        )
        style.tag(list(bars.lines[:1]) + list(bars.lines[2]), setting)
        ax.scatter(
            x,
            line["accuracy"],
            marker=look.marker(setting),
            s=40,
            zorder=4,
            edgecolor=colour,
            facecolor=[colour if ok else "white" for ok in line["learned"]],
        )
        seeds = runs[runs["setting"].eq(setting)]
        ax.scatter(seeds["lag"] + offsets[setting], seeds["test_accuracy"].fillna(0.0), s=6, color=colour,
                   alpha=0.5, zorder=3)
        n_diverged += int(line["diverged"].sum())
    if len(shown):
        ax.axhline(shown["chance"].iloc[0], color=REFERENCE, linestyle=":", linewidth=1.2)
    ax.axhline(lag_analysis.LEARNED_MEAN, color="black", linestyle=":", linewidth=0.6)
    ax.set_ylim(-0.04, 1.04)
    ax.grid(True, color="0.9")
    return n_diverged


def plot_learnable_lag(table: pd.DataFrame, out_stem, setting_style: SettingStyle | None = None) -> list[Path]:
    return save_figure(draw_learnable_lag(table, setting_style), out_stem)


def largest_learned_lag(table: pd.DataFrame, cell: str = lag_analysis.ELMAN) -> dict[str, int | None]:
    """'regime: setting' -> `cell`'s largest learned lag (lag_analysis.learned) at the chosen lr, None if none."""
    summary = lag_analysis.lag_summary(table)
    return {
        f"{regime}: {settings.label(method, k1, k2)}": lag
        for (regime, method, k1, k2), lag in lag_analysis.largest_learned_lag(summary, cell).items()
    }


def summarize_learnable_lag(table: pd.DataFrame) -> dict:
    summary = _lag_labelled(lag_analysis.lag_summary(table))
    past = lag_analysis.beyond_reach(summary)
    lags = sorted(summary["lag"].unique())
    cells = lag_analysis.cells(summary)
    rows, notes = [], []
    for cell in cells:
        largest = largest_learned_lag(table, cell)
        mine, beyond_mine = lag_analysis.of_cell(summary, cell), lag_analysis.of_cell(past, cell)
        for regime in [r for r in REGIME_TITLES if r in set(mine["regime"])]:
            shown = mine[mine["regime"].eq(regime)]
            for setting in settings.table_order(shown.drop(columns="cell")):
                line = shown[shown["setting"].eq(setting)].set_index("lag")
                lag = largest[f"{regime}: {setting}"]
                rows.append(
                    [cell, regime, setting, str(line["reach"].iloc[0]), "none" if lag is None else str(lag)]
                    + [f"{line.loc[L, 'accuracy']:.2f} (lr {line.loc[L, 'lr']:g})" if L in line.index else ""
                       for L in lags]
                )
            beyond = beyond_mine[beyond_mine["regime"].eq(regime)]
            if len(beyond) and beyond["control"].notna().any():
                notes.append(
                    f"{cell}, {regime}: beyond their reach the trained settings average {beyond['accuracy'].mean():.2f}, "
                    f"the readout-only control {beyond['control'].mean():.2f} at the same lags."
                )
    diverged = int(summary["diverged"].sum())
    return {
        "title": f"Which lags each setting learns (delayed recall, three regimes; cells: {', '.join(cells)})",
        "says": (
            "Claim tested: TBPTT(k1, k2) has difficulty learning dependencies longer than its truncation (a "
            "target gets at most k2 steps of backpropagation; reach = k2 - 1). A lag counts as learned when the "
            f"mean held-out test accuracy over seeds is >= {lag_analysis.LEARNED_MEAN:g} and the lower end of its "
            f"{100 * lag_analysis.CONFIDENCE:g} % bootstrap interval is above chance "
            f"({summary['chance'].iloc[0]:.3g}), each setting at {rate_choice(table)}."
        ),
        "table": {
            "columns": ["cell", "regime", "setting", "reach", "largest lag learned"] + [f"L={lag:g}" for lag in lags],
            "rows": rows,
        },
        "notes": notes + [f"{diverged} runs at a chosen learning rate diverged (counted as accuracy 0)."],
    }


# -- (b) loss curves ----------------------------------------------------------------------


def _seed_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, sequences_seen) over seeds: mean update, mean training seconds, mean/min/max finite loss."""
    finite = rows[np.isfinite(rows["loss"])]
    return (
        finite.groupby(["setting", "sequences_seen"])
        .agg(
            update=("update", "mean"),
            wall_s=("wall_s", "mean"),
            loss=("loss", "mean"),
            low=("loss", "min"),
            high=("loss", "max"),
        )
        .reset_index()
    )


def draw_loss_curves(
    training: pd.DataFrame, tasks=("copy_memory", "digits"), setting_style: SettingStyle | None = None
) -> Figure:
    """Held-out loss against SGD updates and against training seconds, one row of panels per task:
    per setting the mean over seeds, shaded from the lowest to the highest seed."""
    present = [task for task in tasks if training["task"].eq(task).any()]
    if not present:
        raise ValueError(f"the training table has no runs of {tasks}")
    labelled = settings.labelled(training[training["task"].isin(present)])
    look = _style(labelled, setting_style)
    drawn = settings.table_order(labelled)
    fig = Figure(figsize=(12.5, 3.9 * len(present) + 0.5), layout="constrained")
    axes = fig.subplots(len(present), 2, squeeze=False)
    n_diverged, seeds = 0, labelled["seed"].nunique()
    for (ax_updates, ax_seconds), task in zip(axes, present):
        rows = labelled[labelled["task"].eq(task)]
        curves = _seed_summary(rows)
        for setting in drawn:
            curve = curves[curves["setting"] == setting].sort_values("sequences_seen")
            for ax, x in ((ax_updates, "update"), (ax_seconds, "wall_s")):
                line = ax.plot(
                    curve[x],
                    curve["loss"],
                    color=look.colour(setting),
                    marker=look.marker(setting),
                    markersize=4,
                    markevery=max(len(curve) // 6, 1),
                    linewidth=1.4,
                )
                band = ax.fill_between(
                    curve[x],
                    curve["low"],
                    curve["high"],
                    color=look.colour(setting),
                    alpha=BAND_ALPHA,
                    linewidth=0,
                )
                style.tag(line + [band], setting)
        marks = _diverged_runs(rows)
        n_diverged += len(marks)
        for _, mark in marks.iterrows():
            for ax, x in ((ax_updates, "update"), (ax_seconds, "wall_s")):
                ax.scatter(mark[x], mark["last_loss"], color=look.colour(mark["setting"]), **DIVERGED)
        baseline = rows["baseline_loss"].iloc[0]
        for ax in (ax_updates, ax_seconds):
            ax.axhline(baseline, color=REFERENCE, linestyle=":", linewidth=1.2)
            style.log_axis(ax, "y")
            ax.set_ylabel(f"held-out loss per target step\n({_loss_unit(rows)})")
            ax.grid(True, color="0.9")
        ax_updates.set_xscale("symlog", linthresh=10)
        ax_updates.set_xlim(left=0)
        decades = np.log10(max(rows["update"].max(), 10)) - 1  # above the linear part
        ax_updates.xaxis.set_major_locator(
            SymmetricalLogLocator(base=10, linthresh=10, subs=(1, 2, 5) if decades <= 2 else (1,))
        )
        ax_updates.xaxis.set_major_formatter(PLAIN)
        ax_updates.set_xlabel("SGD updates (one per segment; symlog scale: linear below 10)")
        ax_seconds.set_xlabel("training time (s, mean over seeds; evaluation excluded)")
        r = rows.iloc[0]
        lag = f", lag {r['lag']:g}" if r["lag"] > 0 else ""
        ax_updates.set_title(f"{task}: T={r['T']:g}{lag}; against updates", fontsize=10)
        ax_seconds.set_title(f"{task}: against training seconds", fontsize=10)
    fig.suptitle(
        f"Held-out loss during online SGD — {_run_text(labelled)}; "
        + (
            f"mean over {seeds} seeds, shaded from the lowest to the highest seed"
            if seeds > 1
            else "one seed"
        ),
        fontsize=10,
    )
    handles = [look.handle(s) for s in drawn] + (
        [_band_handle(f"range over {seeds} seeds")] if seeds > 1 else []
    )
    handles.append(style.reference_handle("memoryless baseline of the task"))
    legend(fig, handles + ([_diverged_handle(n_diverged)] if n_diverged else []))
    return fig


def plot_loss_curves(
    training: pd.DataFrame,
    out_stem,
    tasks=("copy_memory", "digits"),
    setting_style: SettingStyle | None = None,
) -> list[Path]:
    return save_figure(draw_loss_curves(training, tasks, setting_style), out_stem)


def summarize_loss_curves(training: pd.DataFrame, tasks=("copy_memory", "digits")) -> dict:
    present = training[training["task"].isin(tasks)]
    if present.empty:
        raise ValueError(f"the training table has no runs of {tasks}")
    final = analysis.final_losses(present)
    rows = [
        [
            r.task,
            r.setting,
            f"{r.mean:.3g}",
            f"{r.low:.3g}–{r.high:.3g}",
            f"{r.baseline:.3g}",
            "yes" if r.mean < r.baseline else "no",
            f"{r.diverged:g} of {r.runs:g}",
            f"{r.training_s:.3g}",
        ]
        for r in final.itertuples()
    ]
    return {
        "title": "Final held-out loss per setting (loss curves)",
        "says": (
            "Claim tested: with the same sequences, TBPTT's more frequent, cheaper updates may buy more loss "
            "reduction per second than BPTT, unless the task's dependencies exceed the truncation."
        ),
        "table": {
            "columns": [
                "task",
                "setting",
                "final loss (mean)",
                "lowest–highest seed",
                "memoryless baseline",
                "below baseline",
                "diverged",
                "training s per run",
            ],
            "rows": rows,
        },
        "notes": [
            "Training seconds are the learning run's own clock (online SGD, one update per segment, evaluation "
            "excluded, Python per update included); the time per sequence under the Pareto figure is a "
            "separate measurement, the benchmark cell's median of isolated timed repeats, and is the one to "
            "compare settings by."
        ],
    }


# -- (c) Pareto --------------------------------------------------------------------------


def _memory_column(points: pd.DataFrame) -> tuple[str, str]:
    """(column, label) of the Pareto memory axis: one framework's native peak, else the shared peak RSS."""
    impls = points["impl"].unique()
    if len(impls) == 1 and points["framework_peak_bytes"].notna().all():
        return "framework_peak_bytes", f"{impls[0]} native peak: {native_memory_label(impls[0])} (MiB)"
    return "peak_rss_bytes", "peak RSS above the process baseline (MiB)"


def draw_pareto(
    training: pd.DataFrame, benchmarks: pd.DataFrame, setting_style: SettingStyle | None = None
) -> Figure:
    """Final loss (mean over seeds) against the benchmark's time per sequence and peak memory, per task;
    the Pareto front (no other setting both cheaper and lower) joined by a dashed step line."""
    points, missing = analysis.pareto_points(training, benchmarks)
    look = _style(points if len(points) else settings.labelled(training), setting_style)
    memory, memory_label = _memory_column(points) if len(points) else ("peak_rss_bytes", "peak memory (MiB)")
    tasks = list(dict.fromkeys(points["task"])) or ["(none)"]
    fig = Figure(figsize=(12, 3.9 * len(tasks) + 0.6), layout="constrained")
    axes = fig.subplots(len(tasks), 2, squeeze=False)
    drawn, off_range = settings.table_order(points) if len(points) else [], []
    for (ax_time, ax_memory), task in zip(axes, tasks):
        rows = points[points["task"].eq(task)]
        task_runs = training[training["task"].eq(task)]
        for ax, column, scale, label in (
            (ax_time, "time_s", 1e3, "time per sequence (ms, benchmark median)"),
            (ax_memory, memory, 2.0**-20, memory_label),
        ):
            shown = rows[rows[column].notna()]
            if shown.empty:
                ax.text(
                    0.5, 0.5, "no training run matched a benchmark row", ha="center", transform=ax.transAxes
                )
                continue
            for setting in settings.table_order(shown):
                point = shown[shown["setting"] == setting]
                style.tag(
                    ax.scatter(
                        point[column] * scale,
                        point["loss"],
                        s=80,
                        facecolors="none",
                        linewidths=1.8,
                        edgecolors=look.colour(setting),
                        marker=look.marker(setting),
                        zorder=4,
                    ),
                    setting,
                )
            best = shown.iloc[analysis.front(shown[column].to_numpy(), shown["loss"].to_numpy())]
            ax.plot(
                best[column] * scale,
                best["loss"],
                color=REFERENCE,
                linestyle="--",
                linewidth=1.2,
                drawstyle="steps-post",
                zorder=2,
            )
            ax.scatter(
                best[column] * scale, best["loss"], s=300, color=REFERENCE, alpha=0.25, linewidths=0, zorder=1
            )
            baseline = shown["baseline"].iloc[0]
            low, high = shown["loss"].min(), shown["loss"].max()
            if baseline <= high + 0.5 * (high - low) + 0.05 * abs(high):
                ax.axhline(baseline, color=REFERENCE, linestyle=":", linewidth=1.2)
            elif ax is ax_time:
                off_range.append(f"{task} {baseline:.3g}")
            ax.margins(0.08)
            style.log_axis(ax, "x", min_labels=3)
            ax.set_xlabel(label)
            ax.set_ylabel(f"final held-out loss per target step\n({_loss_unit(task_runs)}, mean over seeds)")
            ax.grid(True, color="0.9")
        r = task_runs.iloc[0] if len(task_runs) else None
        if r is not None:
            ax_time.set_title(f"{task}: T={r['T']:g}, {_run_text(task_runs)}", fontsize=10)
            ax_memory.set_title(f"{task}: against peak memory", fontsize=10)
    fig.suptitle(
        "Final loss against cost per sequence; cost from the benchmark cell of the same "
        "implementation, T, k1, k2 and sizes"
        + (f"\nnot plotted, no ok benchmark cell: {'; '.join(missing)}" if missing else ""),
        fontsize=10,
    )
    handles = [look.handle(s, linestyle="", markerfacecolor="none", markeredgewidth=1.8) for s in drawn]
    handles += [
        Line2D(
            [],
            [],
            color=REFERENCE,
            linestyle="--",
            marker="o",
            markersize=14,
            alpha=0.5,
            label="Pareto front (no setting both\ncheaper and lower): grey halo, dashed steps",
        ),
        style.reference_handle(
            "memoryless baseline of the task"
            + (f"\n(above the plotted range: {'; '.join(off_range)})" if off_range else "")
        ),
    ]
    legend(fig, handles)
    return fig


def plot_pareto(
    training: pd.DataFrame, benchmarks: pd.DataFrame, out_stem, setting_style: SettingStyle | None = None
) -> list[Path]:
    return save_figure(draw_pareto(training, benchmarks, setting_style), out_stem)


def summarize_pareto(training: pd.DataFrame, benchmarks: pd.DataFrame) -> dict:
    points, missing = analysis.pareto_points(training, benchmarks)
    memory, memory_label = _memory_column(points) if len(points) else ("peak_rss_bytes", "peak memory (MiB)")
    rows = []
    for task, group in points.groupby("task", sort=False):
        on_front = set(
            group.iloc[analysis.front(group["time_s"].to_numpy(), group["loss"].to_numpy())]["setting"]
        )
        for setting in settings.table_order(group):
            r = group[group["setting"] == setting].iloc[0]
            rows.append(
                [
                    task,
                    setting,
                    f"{r['loss']:.3g}",
                    f"{1e3 * r['time_s']:.3g}",
                    f"{r[memory] / 2**20:.3g}",
                    "yes" if setting in on_front else "no",
                ]
            )
    return {
        "title": "Loss against cost (Pareto)",
        "says": (
            "Claim tested: truncation trades final loss for time and memory per sequence. Final loss is the "
            "mean over seeds of the training runs; time per sequence is the benchmark cell's median of its "
            "timed repeats (one training pass over one sequence)."
        ),
        "table": {
            "columns": [
                "task",
                "setting",
                "final loss",
                "time per sequence (ms)",
                memory_label,
                "on the time–loss front",
            ],
            "rows": rows,
        },
        "notes": [f"Left out for want of an ok benchmark cell: {', '.join(missing)}."] if missing else [],
    }


# -- (d) gradient bias -------------------------------------------------------------------

METRICS = (
    ("cosine", "cosine similarity to the BPTT gradient"),
    ("relative_error", r"relative error $\|G_{TBPTT} - G_{BPTT}\| \,/\, \|G_{BPTT}\|$"),
)
STATE_STYLES = ("-", "--", "-.", ":")


def draw_gradient_bias(bias: pd.DataFrame) -> Figure:
    """Cosine and relative error of TBPTT's gradient against BPTT's vs k2: colour k1 (a sequential scale,
    not a setting colour), line style the network's state, band the range over batches. Frameworks whose
    numbers agree within analysis.AGREE are drawn once; otherwise one row of panels per framework."""
    if bias.empty:
        raise ValueError("the gradient-bias table has no rows")
    impls = style.impl_order(bias["impl"])
    spread = analysis.framework_spread(bias)
    agree = max(spread.values()) < analysis.AGREE
    cells = [c for c in CELL_ORDER if c in set(bias["cell"])] if "cell" in bias else [None]
    groups = []
    for cell in cells:  # one row of panels per recurrent cell (and per framework if they disagree)
        rows = bias if cell is None else bias[bias["cell"] == cell]
        prefix = "" if cell is None else f"{cell}: "
        if agree:
            groups.append((prefix + ", ".join(impls), rows))
        else:
            groups += [(prefix + impl, rows[rows["impl"] == impl]) for impl in impls]
    k1s = sorted(bias["k1"].unique())
    colours = dict(zip(k1s, sns.color_palette("viridis", len(k1s))))
    states = list(dict.fromkeys(bias["state"]))
    lines = dict(zip(states, STATE_STYLES))
    fig = Figure(figsize=(12, 3.9 * len(groups) + 0.7), layout="constrained")
    axes = fig.subplots(len(groups), 2, squeeze=False, sharex=True)
    for (name, rows), panel_axes in zip(groups, axes):
        table = analysis.bias_by_k2(rows)
        for ax, (metric, label) in zip(panel_axes, METRICS):
            for (state, k1), line in table.groupby(["state", "k1"], sort=False):
                ax.plot(
                    line["k2"],
                    line[metric],
                    color=colours[k1],
                    linestyle=lines[state],
                    marker="o",
                    markersize=3,
                )
                ax.fill_between(
                    line["k2"],
                    line[f"{metric}_low"],
                    line[f"{metric}_high"],
                    color=colours[k1],
                    alpha=BAND_ALPHA,
                    linewidth=0,
                )
            for T in rows["T"].unique():
                ax.axvline(T, color=REFERENCE, linestyle=":", linewidth=1.2)
            ax.axhline(1 if metric == "cosine" else 0, color=REFERENCE, linewidth=0.8)
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(PLAIN)
            ax.set_ylabel(label, fontsize=9)
            if not agree or len(cells) > 1:
                ax.set_title(name, fontsize=10)
            ax.grid(True, color="0.9")
        for ax in panel_axes:
            ax.set_xlabel("k2 (steps of backpropagation per update)")
    r = bias.iloc[0]
    largest = max(spread.values())
    agreement = (
        (
            f"{', '.join(impls)} give the same numbers (largest difference "
            f"{'0' if largest == 0 else f'{largest:.1g}'}): drawn once"
            if len(impls) > 1
            else f"{impls[0]}"
        )
        if agree
        else f"frameworks differ by up to {largest:.2g}: one row of panels each"
    )
    fig.suptitle(
        f"TBPTT gradient against BPTT's — {r['task']}, T={r['T']:g}, lag {r['lag']:g}, H={r['H']:g}, "
        f"{bias['batch'].nunique()} batches of B={r['B']:g}, {r['dtype']}\n{agreement}",
        fontsize=10,
    )
    handles = [
        Line2D([], [], color=colours[k1], marker="o", markersize=4, label=f"k1 = {k1:g}") for k1 in k1s
    ]
    handles += [Line2D([], [], color="black", linestyle=lines[s], label=f"state: {s}") for s in states]
    handles += [
        _band_handle(f"range over {bias['batch'].nunique()} batches"),
        style.reference_handle("k2 = T (TBPTT equals BPTT)"),
        Line2D([], [], color=REFERENCE, linewidth=0.8, label="perfect agreement (1 or 0)"),
    ]
    legend(fig, handles, title="line")
    return fig


def plot_gradient_bias(bias: pd.DataFrame, out_stem) -> list[Path]:
    return save_figure(draw_gradient_bias(bias), out_stem)


def summarize_gradient_bias(bias: pd.DataFrame) -> dict:
    bias = bias if "cell" in bias else bias.assign(cell="rnn_tanh")
    by_k2 = bias.groupby(["cell", "state", "k2"], sort=False)[["cosine", "relative_error"]].mean().reset_index()
    spread = analysis.framework_spread(bias)
    T = ", ".join(f"{t:g}" for t in sorted(bias["T"].unique()))
    notes = []
    if bias["impl"].nunique() > 1:
        notes.append(
            f"The {bias['impl'].nunique()} frameworks ({', '.join(style.impl_order(bias['impl']))}) agree "
            f"to {spread['cosine']:.1g} in cosine and {spread['relative_error']:.1g} in relative error."
        )
    return {
        "title": "Gradient bias of truncation",
        "says": (
            "Claim tested: the TBPTT gradient is a biased estimate of the BPTT gradient, the bias shrinking as "
            f"k2 grows and vanishing at k2 >= T (T = {T}). Mean over k1 = "
            f"{', '.join(f'{k:g}' for k in sorted(bias['k1'].unique()))}, batches and frameworks."
        ),
        "table": {
            "columns": ["cell", "state", "k2", "cosine", "relative error"],
            "rows": [
                [r.cell, r.state, f"{r.k2:g}", f"{r.cosine:.3f}", f"{r.relative_error:.2g}"]
                for r in by_k2.itertuples()
            ],
        },
        "notes": notes,
    }


# -- (e) gradient decay ------------------------------------------------------------------


def draw_gradient_decay(decay: pd.DataFrame) -> Figure:
    """||dL_T / dh_{T-k}|| against k (log y), one line per spectral radius of W_hh (a sequential scale);
    mean over seeds, band the range over seeds."""
    if decay.empty:
        raise ValueError("the gradient-decay table has no rows")
    radii = sorted(decay["radius"].unique())
    colours = dict(zip(radii, sns.color_palette("rocket_r", len(radii) + 1)[1:]))
    stats = decay.groupby(["radius", "k"])["grad_norm"].agg(["mean", "min", "max"]).reset_index()
    fig = Figure(figsize=(8.2, 4.6), layout="constrained")
    ax = fig.add_subplot()
    for radius in radii:
        line = stats[stats["radius"] == radius]
        ax.plot(line["k"], line["mean"], color=colours[radius], linewidth=1.6)
        ax.fill_between(
            line["k"], line["min"], line["max"], color=colours[radius], alpha=BAND_ALPHA, linewidth=0
        )
    style.log_axis(ax, "y")
    ax.set_xlabel("k (steps back from the loss at the last step T)")
    ax.set_ylabel(r"$\|\partial L_T / \partial h_{T-k}\|$" + "\n(per unit of state; mean over the batch)")
    ax.grid(True, color="0.9")
    r = decay.iloc[0]
    n = decay["seed"].nunique()
    ax.set_title(
        f"Elman RNN, H={r['H']:g}, T={r['T']:g}, B={r['B']:g}, {r['dtype']} (NumPy): "
        + (f"mean over {n} seeds" if n > 1 else "one seed"),
        fontsize=10,
    )
    handles = [Line2D([], [], color=colours[radius], linewidth=1.6, label=f"{radius:g}") for radius in radii]
    handles += [_band_handle(f"range over {n} seeds")] if n > 1 else []
    legend(fig, handles, title=r"spectral radius of $W_{hh}$")
    return fig


def plot_gradient_decay(decay: pd.DataFrame, out_stem) -> list[Path]:
    return save_figure(draw_gradient_decay(decay), out_stem)


def summarize_gradient_decay(decay: pd.DataFrame) -> dict:
    span = analysis.decay_span(decay)
    return {
        "title": "How the gradient decays with distance",
        "says": (
            "Claim tested: gradients through the recurrence vanish or explode geometrically with the distance "
            "k, at a rate set by W_hh's spectral radius and the tanh slopes, so the far past contributes little "
            "(or too much) and truncating it is cheap (or necessary). Factor per step: least-squares fit of "
            "log10 of the seed-mean norm against k."
        ),
        "table": {
            "columns": ["spectral radius", "factor per step", "norm at k=0", "norm at largest k", "ratio"],
            "rows": [
                [
                    f"{r.radius:g}",
                    f"×{r.per_step:.3g}",
                    f"{r.norm_k0:.3g}",
                    f"{r.norm_k_max:.3g} (k={r.k_max})",
                    f"{r.ratio:.2g}",
                ]
                for r in span.itertuples()
            ],
        },
        "notes": [],
    }
