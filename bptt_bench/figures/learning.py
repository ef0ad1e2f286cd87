"""Figures of the learning experiments (training, gradient-bias, gradient-decay tables) and their captions.

Each plot_* reads tables only and writes out_stem.png and out_stem.pdf. A run whose
last row says 'diverged' is drawn up to its last finite loss and marked there with a
cross (in (a), a cross on the x axis). Each summarize_* returns one paragraph: the claim
the figure tests and what its data says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from bptt_bench.experiments import analysis
from bptt_bench.experiments.training import RUN, final_rows
from bptt_bench.figures import save_figure
from bptt_bench.figures.benchmarks import setting_label

JOIN = ["impl", "method", "T", "k1", "k2", "B", "H", "D", "O", "dtype"]
SPREAD = ("pi", 100)  # bands and bars: the range over seeds (or batches)
DIVERGED = dict(marker="X", s=90, edgecolor="black", linewidth=0.8, zorder=5)
PLAIN = FuncFormatter(lambda value, _: f"{value:g}")  # 2.4 rather than 2.4 x 10^0
# Log-axis minor ticks: label only 2 and 5 times a power of ten, in plain numbers.
PLAIN_MINOR = FuncFormatter(
    lambda value, _: (
        f"{value:g}" if value > 0 and round(value / 10 ** np.floor(np.log10(value))) in (2, 5) else ""
    )
)


def _labelled(table: pd.DataFrame) -> pd.DataFrame:
    """The table with a `setting` column, 'BPTT' or 'TBPTT(k1, k2)' (plus the impl when there are several)."""
    if table.empty:
        raise ValueError("the training table has no rows for this figure")
    setting = [setting_label(*row) for row in zip(table["method"], table["k1"], table["k2"])]
    if table["impl"].nunique() > 1:
        setting = [f"{label} [{impl}]" for label, impl in zip(setting, table["impl"])]
    return table.assign(setting=setting)


def _order(labelled: pd.DataFrame) -> list[str]:
    """Settings in a stable order: TBPTT by (k2, k1), then BPTT."""
    first = labelled.drop_duplicates("setting")
    keys = pd.DataFrame(
        {
            "bptt": first["method"].eq("bptt"),
            "k2": first["k2"],
            "k1": first["k1"],
            "impl": first["impl"],
            "setting": first["setting"],
        }
    )
    return list(keys.sort_values(["bptt", "k2", "k1", "impl"])["setting"])


def _diverged_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The last row of every diverged run, with `last_loss`, its last finite held-out loss."""
    marks = []
    for _, run in table.sort_values("sequences_seen").groupby(RUN, dropna=False, sort=False):
        if run["status"].iloc[-1] == "diverged":
            finite = run["loss"][np.isfinite(run["loss"])]
            marks.append(run.iloc[-1].to_dict() | {"last_loss": finite.iloc[-1] if len(finite) else np.nan})
    return pd.DataFrame(marks, columns=list(table.columns) + ["last_loss"])


# -- (a) learnable lag -----------------------------------------------------------------

REGIME_TITLES = {
    "gradient": "gradient mode: one update per sequence\n(only the gradient differs)",
    "online_equal_data": "online, equal data: ceil(T/k1) updates per sequence",
    "online_equal_updates": "online, equal updates: every setting n updates",
}


def _lag_label(method: str, k1, k2) -> str:
    if method == "readout_only":
        return "readout only (control)"
    return setting_label(method, k1, k2)


def plot_learnable_lag(table: pd.DataFrame, out_stem) -> list[Path]:
    """(a) Held-out test accuracy on delayed recall vs the lag, one facet per regime.

    Each setting at its validation-chosen learning rate: mean over seeds with the
    bootstrap interval of the mean (bars), dots per seed; a filled marker where the lag
    counts as learned (analysis.learned); the readout-only control as a grey band (its
    interval) and dashed line, the floor that needs no backpropagation through time.
    """
    summary = _with_label(analysis.lag_summary(table))
    if summary.empty:
        raise ValueError("the learnable-lag table has no runs at a chosen learning rate")
    final = _with_label(analysis.final_runs(table[table["lr_chosen"].astype(bool)]))
    regimes = [regime for regime in REGIME_TITLES if regime in set(summary["regime"])]
    trained = summary[~summary["method"].eq("readout_only")].drop_duplicates("setting")
    trained = list(trained.assign(bptt=trained["method"].eq("bptt")).sort_values(["bptt", "k2", "k1"])["setting"])
    palette = dict(zip(trained, sns.color_palette("colorblind", len(trained))))
    offsets = dict(zip(trained, np.linspace(-0.3, 0.3, len(trained))))
    fig = Figure(figsize=(4.6 * len(regimes) + 0.6, 4.6), layout="constrained")
    axes = fig.subplots(1, len(regimes), squeeze=False, sharey=True)[0]
    for ax, regime in zip(axes, regimes):
        shown = summary[summary["regime"].eq(regime)]
        runs = final[final["regime"].eq(regime)]
        floor = shown[shown["method"].eq("readout_only")].sort_values("lag")
        if len(floor):
            ax.fill_between(floor["lag"], floor["low"], floor["high"], color="grey", alpha=0.25, linewidth=0)
            ax.plot(floor["lag"], floor["accuracy"], color="grey", linestyle="--", marker=".")
        for setting in trained:
            line = shown[shown["setting"].eq(setting)].sort_values("lag")
            if line.empty:
                continue
            x, color = line["lag"] + offsets[setting], palette[setting]
            ax.errorbar(x, line["accuracy"], yerr=[line["accuracy"] - line["low"], line["high"] - line["accuracy"]],
                        color=color, linewidth=1.2, capsize=2, label=setting)
            ax.scatter(x, line["accuracy"], s=36, zorder=4, edgecolor=color,
                       facecolor=[color if ok else "white" for ok in line["learned"]])
            seeds = runs[runs["setting"].eq(setting)]
            ax.scatter(seeds["lag"] + offsets[setting], seeds["test_accuracy"].fillna(0.0), s=6, color=color,
                       alpha=0.5, zorder=3)
        chance = shown["chance"].iloc[0]
        ax.axhline(chance, color="grey", linestyle=":", linewidth=1)
        ax.axhline(analysis.LEARNED_MEAN, color="black", linestyle=":", linewidth=0.6)
        ax.set_xticks(sorted(shown["lag"].unique()))
        ax.set_xlabel("lag L (steps between a symbol and its recall)")
        ax.set_title(REGIME_TITLES[regime], fontsize=9)
    axes[0].set_ylabel("held-out test accuracy at the chosen lr")
    axes[0].set_ylim(-0.03, 1.03)
    handles, names = axes[0].get_legend_handles_labels()
    handles += [
        (Patch(color="grey", alpha=0.25, linewidth=0), Line2D([], [], color="grey", linestyle="--", marker=".")),
        Line2D([], [], color="grey", linestyle=":"),
        Line2D([], [], color="black", linestyle=":", linewidth=0.6),
        Line2D([], [], color="grey", marker="o", markerfacecolor="white", linestyle=""),
    ]
    names += ["readout only (control): the floor", f"chance (1/V = {chance:.3g})",
              f"learned: mean >= {analysis.LEARNED_MEAN} (filled marker) and", "bootstrap low end > chance"]
    fig.legend(handles, names, loc="outside right center", fontsize=8, title="setting")
    T, n = int(final["T"].iloc[0]), int(summary["seeds"].min())
    fig.suptitle(
        f"Delayed recall, T = {T}: mean over {n} seeds with {int(100 * analysis.CONFIDENCE)}% bootstrap interval, "
        "dots per seed; each setting at its validation-chosen learning rate",
        fontsize=9,
    )
    return save_figure(fig, out_stem)


def _with_label(frame: pd.DataFrame) -> pd.DataFrame:
    """frame with a `setting` column: 'TBPTT(k1, k2)', 'BPTT' or 'readout only (control)'."""
    return frame.assign(setting=[_lag_label(*key) for key in zip(frame["method"], frame["k1"], frame["k2"])])


def largest_learned_lag(table: pd.DataFrame) -> dict[str, int | None]:
    """'regime: setting' -> the largest learned lag (analysis.learned) at the chosen lr, None if none."""
    return {
        f"{regime}: {_lag_label(method, k1, k2)}": lag
        for (regime, method, k1, k2), lag in analysis.largest_learned_lag(analysis.lag_summary(table)).items()
    }


def summarize_learnable_lag(table: pd.DataFrame) -> str:
    summary = analysis.lag_summary(table)
    largest = analysis.largest_learned_lag(summary)
    past = analysis.beyond_reach(summary)
    parts = []
    for regime, shown in summary.groupby("regime", sort=False):
        listed = []
        for key, group in shown.groupby(analysis.SETTING, dropna=False, sort=False):
            lag = largest[(regime, *analysis.setting_key(*key))]
            by_lag = ", ".join(f"{row.accuracy:.2f} at L = {row.lag} (lr {row.lr:g})" for row in group.itertuples())
            listed.append(f"{_lag_label(*key)}: largest learned {'none' if lag is None else f'L = {lag}'} ({by_lag})")
        beyond = past[past["regime"].eq(regime)]
        explained = (
            f"; beyond their reach the trained settings average {beyond['accuracy'].mean():.2f}, "
            f"the readout-only control {beyond['control'].mean():.2f} at the same lags"
            if len(beyond) and beyond["control"].notna().any() else ""
        )
        parts.append(f"{regime}: " + "; ".join(listed) + explained)
    n_diverged = int(summary["diverged"].sum())
    return (
        "Claim tested: TBPTT(k1, k2) has difficulty learning dependencies longer than its truncation "
        "(a target gets at most k2 steps of backpropagation). A lag counts as learned when the mean held-out "
        f"test accuracy over seeds is >= {analysis.LEARNED_MEAN} and the lower end of its "
        f"{int(100 * analysis.CONFIDENCE)}% bootstrap interval is above chance, at the learning rate chosen on "
        "validation. " + " | ".join(parts) + f". Chance is {summary['chance'].iloc[0]:.3g}; {n_diverged} runs at a "
        "chosen learning rate diverged (counted as accuracy 0)."
    )


# -- (b) loss curves ----------------------------------------------------------------------


def plot_loss_curves(training: pd.DataFrame, out_stem, tasks=("copy_memory", "digits")) -> list[Path]:
    """(b) Held-out loss vs SGD updates (mean and range over seeds) and vs training seconds (per seed).

    One row of panels per task present; the task's memoryless baseline is a dotted line.
    """
    present = [task for task in tasks if training["task"].eq(task).any()]
    if not present:
        raise ValueError(f"the training table has no runs of {tasks}")
    fig = Figure(figsize=(11, 3.8 * len(present)), layout="constrained")
    axes = fig.subplots(len(present), 2, squeeze=False)
    for (ax_updates, ax_seconds), task in zip(axes, present):
        rows = _labelled(training[training["task"].eq(task)])
        order = _order(rows)
        palette = dict(zip(order, sns.color_palette("colorblind", len(order))))
        finite = rows[np.isfinite(rows["loss"])]
        sns.lineplot(
            data=finite,
            x="update",
            y="loss",
            hue="setting",
            hue_order=order,
            palette=palette,
            errorbar=SPREAD,
            ax=ax_updates,
        )
        sns.lineplot(
            data=finite,
            x="wall_s",
            y="loss",
            hue="setting",
            hue_order=order,
            palette=palette,
            units="seed",
            estimator=None,
            linewidth=1,
            ax=ax_seconds,
            legend=False,
        )
        marks = _diverged_runs(rows)
        for _, mark in marks.iterrows():
            ax_updates.scatter(mark["update"], mark["last_loss"], color=palette[mark["setting"]], **DIVERGED)
            ax_seconds.scatter(mark["wall_s"], mark["last_loss"], color=palette[mark["setting"]], **DIVERGED)
        baseline = rows["baseline_loss"].iloc[0]
        unit = (
            "squared error" if np.isnan(rows["chance_accuracy"].iloc[0]) else "cross-entropy, nats"
        )  # NaN: mse
        for ax in (ax_updates, ax_seconds):
            ax.axhline(baseline, color="grey", linestyle=":", linewidth=1)
            ax.set_ylabel(f"held-out loss per target step ({unit})")
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(PLAIN)
            ax.yaxis.set_minor_formatter(PLAIN_MINOR)
        ax_updates.set_xscale("symlog", linthresh=10)
        ax_updates.set_xlim(left=0)
        ax_updates.xaxis.set_major_formatter(PLAIN)
        ax_updates.set_xlabel("SGD updates (one per segment; symlog scale)")
        ax_seconds.set_xlabel("training time (s, evaluation excluded)")
        T, lag, n = rows["T"].iloc[0], rows["lag"].iloc[0], rows["seed"].nunique()
        ax_updates.set_title(f"{task}: T = {T}, lag {lag}; mean and range over {n} seeds", fontsize=9)
        ax_seconds.set_title(f"{task}: one line per seed", fontsize=9)
        handles, labels = ax_updates.get_legend_handles_labels()
        handles += [
            Line2D([], [], color="grey", linestyle=":"),
            Line2D([], [], color="grey", marker="X", linestyle=""),
        ]
        labels += [f"memoryless baseline {baseline:.3g}", f"diverged run ({len(marks)})"]
        ax_updates.legend(handles, labels, title="setting", fontsize=8)
    return save_figure(fig, out_stem)


def _final_by_setting(training: pd.DataFrame) -> pd.DataFrame:
    """Per (task, setting): mean final held-out loss, runs, diverged runs, mean seconds per sequence."""
    runs = _labelled(final_rows(training))
    runs = runs.assign(
        diverged=runs["status"].ne("ok"), s_per_sequence=runs["wall_s"] / runs["sequences_seen"]
    )
    return runs.groupby(["task", "setting"], sort=False).agg(
        loss=("loss", "mean"),
        runs=("seed", "size"),
        diverged=("diverged", "sum"),
        s_per_sequence=("s_per_sequence", "mean"),
        baseline=("baseline_loss", "first"),
    )


def summarize_loss_curves(training: pd.DataFrame, tasks=("copy_memory", "digits")) -> str:
    present = training[training["task"].isin(tasks)]
    if present.empty:
        raise ValueError(f"the training table has no runs of {tasks}")
    parts = []
    for task, final in _final_by_setting(present).groupby(level="task", sort=False):
        final = final.droplevel("task").sort_values("loss")
        below = final.index[final["loss"] < final["baseline"]]
        listed = ", ".join(
            f"{row.Index} {row.loss:.3g} ({1e3 * row.s_per_sequence:.2g} ms/sequence"
            + (f", {row.diverged} of {row.runs} diverged" if row.diverged else "")
            + ")"
            for row in final.itertuples()
        )
        parts.append(
            f"{task} (memoryless baseline {final['baseline'].iloc[0]:.3g}): final loss {listed}; "
            f"{len(below)} of {len(final)} settings end below the baseline"
        )
    return (
        "Claim tested: with the same sequences, TBPTT's more frequent, cheaper updates may buy more loss "
        "reduction per second than BPTT, unless the task's dependencies exceed the truncation. "
        "Mean final held-out loss per setting, best first: " + "; ".join(parts) + "."
    )


# -- (c) Pareto --------------------------------------------------------------------------


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
    """(points, unmatched settings): final training loss per (task, JOIN) with the benchmark's median
    time per sequence and peak memory, over its 'ok' rows with the same JOIN values."""
    runs = _labelled(final_rows(training))
    final = (
        _key_columns(runs)
        .groupby(["task", "setting"] + JOIN, dropna=False, as_index=False)
        .agg(loss=("loss", "mean"), baseline=("baseline_loss", "first"))
    )
    measured = (
        _key_columns(benchmarks[benchmarks["status"].eq("ok")])
        .groupby(JOIN, as_index=False)
        .agg(
            time_s=("time_median_s", "median"),
            framework_peak_bytes=("framework_peak_bytes", "median"),
            peak_rss_bytes=("peak_rss_bytes", "median"),
        )
    )
    points = final.merge(measured, on=JOIN, how="left")
    unmatched = points["time_s"].isna()
    missing = [f"{row.task} {row.setting}" for row in points[unmatched].itertuples()]
    return points[~unmatched], missing


def plot_pareto(training: pd.DataFrame, benchmarks: pd.DataFrame, out_stem) -> list[Path]:
    """(c) Final loss against time per sequence and against peak memory, the Pareto front joined.

    Points are joined on JOIN (BPTT's k1 = k2 = T); a training setting without an 'ok'
    benchmark row is left out and named under the figure. Peak memory is the
    framework-native peak where the benchmark has it, else peak RSS.
    """
    points, missing = pareto_points(training, benchmarks)
    memory = "framework_peak_bytes" if points["framework_peak_bytes"].notna().any() else "peak_rss_bytes"
    tasks = list(dict.fromkeys(points["task"])) or ["(none)"]
    fig = Figure(figsize=(11, 3.8 * len(tasks) + 0.4), layout="constrained")
    axes = fig.subplots(len(tasks), 2, squeeze=False)
    for (ax_time, ax_memory), task in zip(axes, tasks):
        rows = points[points["task"].eq(task)]
        order = _order(rows) if len(rows) else []
        for ax, column, label in (
            (ax_time, "time_s", "time per sequence (s, benchmark median)"),
            (ax_memory, memory, f"peak memory (MiB, {memory.replace('_bytes', '')})"),
        ):
            scale = 1.0 if column == "time_s" else 2.0**-20
            shown = rows[rows[column].notna()]
            if len(shown):
                sns.scatterplot(
                    x=shown[column] * scale,
                    y=shown["loss"],
                    hue=shown["setting"],
                    hue_order=order,
                    palette="colorblind",
                    s=60,
                    ax=ax,
                    legend=ax is ax_time,
                )
                front = shown.iloc[_front(shown[column].to_numpy(), shown["loss"].to_numpy())]
                ax.plot(
                    front[column] * scale,
                    front["loss"],
                    color="black",
                    linewidth=0.8,
                    drawstyle="steps-post",
                    label="Pareto front",
                )
                ax.axhline(shown["baseline"].iloc[0], color="grey", linestyle=":", linewidth=1)
                ax.set_xscale("log")
            else:
                ax.text(
                    0.5, 0.5, "no training run matched a benchmark row", ha="center", transform=ax.transAxes
                )
            ax.set_xlabel(label)
            ax.set_ylabel("final held-out loss per target step")
            ax.set_title(task, fontsize=9)
    if missing:
        fig.supxlabel("not plotted, no matching benchmark row: " + "; ".join(missing), fontsize=7)
    return save_figure(fig, out_stem)


def _front(x: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points (no other is both cheaper and lower), by increasing cost."""
    order = np.lexsort((loss, x))
    keep = loss[order] < np.minimum.accumulate(np.r_[np.inf, loss[order]])[:-1]
    return order[keep]


def summarize_pareto(training: pd.DataFrame, benchmarks: pd.DataFrame) -> str:
    points, missing = pareto_points(training, benchmarks)
    parts = []
    for task, rows in points.groupby("task", sort=False):
        on_front = rows.iloc[_front(rows["time_s"].to_numpy(), rows["loss"].to_numpy())]
        parts.append(
            f"{task}: on the time-loss front "
            + ", ".join(
                f"{row.setting} ({1e3 * row.time_s:.2g} ms, loss {row.loss:.3g})"
                for row in on_front.itertuples()
            )
        )
    return (
        "Claim tested: truncation trades final loss for time and memory per sequence. "
        + ("; ".join(parts) + ". " if parts else "No training run matched a benchmark row. ")
        + (
            f"Left out for want of a benchmark row: {', '.join(missing)}."
            if missing
            else "Every setting matched."
        )
    )


# -- (d) gradient bias -------------------------------------------------------------------


def plot_gradient_bias(bias: pd.DataFrame, out_stem) -> list[Path]:
    """(d) Cosine similarity and relative error of TBPTT against BPTT gradients vs k2.

    One column of panels per framework; colour k1, line style the network's state
    (at initialisation, partly trained); mean and range over batches.
    """
    if bias.empty:
        raise ValueError("the gradient-bias table has no rows")
    impls = list(dict.fromkeys(bias["impl"]))
    rows = bias.assign(k1=[f"k1 = {k1}" for k1 in bias["k1"]])
    k1_order = [f"k1 = {k1}" for k1 in sorted(bias["k1"].unique())]
    fig = Figure(figsize=(4.4 * len(impls) + 1, 7.2), layout="constrained")
    axes = fig.subplots(2, len(impls), squeeze=False, sharex=True)
    for column, impl in enumerate(impls):
        shown = rows[rows["impl"].eq(impl)]
        for row, (metric, label) in enumerate(
            (
                ("cosine", "cosine similarity to the BPTT gradient"),
                ("relative_error", "relative error ||G_TBPTT - G_BPTT|| / ||G_BPTT||"),
            )
        ):
            ax = axes[row, column]
            sns.lineplot(
                data=shown,
                x="k2",
                y=metric,
                hue="k1",
                hue_order=k1_order,
                style="state",
                markers=True,
                palette="viridis",
                errorbar=SPREAD,
                ax=ax,
                legend=column == len(impls) - 1 and row == 0,
            )
            for T in shown["T"].unique():
                ax.axvline(T, color="grey", linestyle=":", linewidth=1)
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(PLAIN)
            ax.set_xlabel("k2 (steps of backpropagation per update; dotted: T)")
            ax.set_ylabel(label, fontsize=8)
            ax.axhline(1 if metric == "cosine" else 0, color="grey", linewidth=0.5)
        task = shown["task"].iloc[0]
        if column == len(impls) - 1:
            sns.move_legend(axes[0, column], "upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
        axes[0, column].set_title(
            f"{impl}: {task}, T = {shown['T'].iloc[0]}, lag {shown['lag'].iloc[0]}, "
            f"{shown['batch'].nunique()} batches of {shown['B'].iloc[0]}",
            fontsize=9,
        )
    return save_figure(fig, out_stem)


def summarize_gradient_bias(bias: pd.DataFrame) -> str:
    mean = bias.groupby(["state", "k2"])[["cosine", "relative_error"]].mean()
    parts = []
    for state, by_k2 in mean.groupby(level="state", sort=False):
        listed = ", ".join(
            f"k2 = {k2}: {row.cosine:.3f} / {row.relative_error:.2g}" for (_, k2), row in by_k2.iterrows()
        )
        parts.append(f"{state} ({listed})")
    agreement = ""
    if bias["impl"].nunique() > 1:
        keys = ["state", "k1", "k2", "batch"]
        spread = bias.groupby(keys)[["cosine", "relative_error"]].agg(lambda v: v.max() - v.min()).max()
        agreement = (
            f" The {bias['impl'].nunique()} frameworks agree to {spread['cosine']:.1g} in cosine and "
            f"{spread['relative_error']:.1g} in relative error."
        )
    T = ", ".join(map(str, sorted(bias["T"].unique())))
    return (
        "Claim tested: the TBPTT gradient is a biased estimate of the BPTT gradient, the bias shrinking as "
        f"k2 grows and vanishing at k2 >= T (T = {T}). Mean cosine / relative error over k1 = "
        f"{', '.join(map(str, sorted(bias['k1'].unique())))} and batches: "
        + "; ".join(parts)
        + "."
        + agreement
    )


# -- (e) gradient decay ------------------------------------------------------------------


def plot_gradient_decay(decay: pd.DataFrame, out_stem) -> list[Path]:
    """(e) ||dL_T / dh_{T-k}|| against k (log y), one line per spectral radius of W_hh; range over seeds."""
    if decay.empty:
        raise ValueError("the gradient-decay table has no rows")
    rows = decay.assign(radius=[f"{radius:g}" for radius in decay["radius"]])
    order = [f"{radius:g}" for radius in sorted(decay["radius"].unique())]
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    sns.lineplot(
        data=rows,
        x="k",
        y="grad_norm",
        hue="radius",
        hue_order=order,
        palette="rocket_r",
        errorbar=SPREAD,
        ax=ax,
    )
    ax.set_yscale("log")
    ax.set_xlabel("k (steps back from the loss at the last step T)")
    ax.set_ylabel("||dL_T / dh_(T-k)|| (nats per unit state; mean over batch)")
    ax.legend(title="spectral radius of W_hh", fontsize=8)
    ax.set_title(
        f"Elman RNN, H = {decay['H'].iloc[0]}, T = {decay['T'].iloc[0]}: mean and range over "
        f"{decay['seed'].nunique()} seeds",
        fontsize=9,
    )
    return save_figure(fig, out_stem)


def decay_per_step(decay: pd.DataFrame) -> dict[float, float]:
    """Per spectral radius, the factor per step of the seed-mean norm (least squares on log10 norm vs k)."""
    mean = decay.groupby(["radius", "k"])["grad_norm"].mean()
    return {
        radius: float(10 ** np.polyfit(line.index.get_level_values("k"), np.log10(line.to_numpy()), 1)[0])
        for radius, line in mean.groupby(level="radius")
    }


def summarize_gradient_decay(decay: pd.DataFrame) -> str:
    mean = decay.groupby(["radius", "k"])["grad_norm"].mean()
    K = int(decay["k"].max())
    parts = [
        f"radius {radius:g}: x{factor:.3g} per step, {mean[radius].iloc[-1] / mean[radius].iloc[0]:.2g} "
        f"times the k = 0 norm at k = {K}"
        for radius, factor in decay_per_step(decay).items()
    ]
    return (
        "Claim tested: gradients through the recurrence vanish or explode geometrically with the distance k, "
        "at a rate set by W_hh's spectral radius and the tanh slopes, so the far past contributes little "
        "(or too much) and truncating it is cheap (or necessary). Fitted growth of ||dL_T/dh_(T-k)||: "
        + "; ".join(parts)
        + "."
    )
