"""Published claims about BPTT and truncation, each checked by a small function over the study's tables.

A claim is a statement with its source, the criterion that decides it, the figure that
shows the data, and the tables (and columns) it needs. `verdict(claim, tables)` returns
holds / fails / partly with the numbers that decided it, or "not tested" with the reason
(a table or column this run did not produce). `claims_table(tables)` is
results/tables/claims.csv. Tables are passed as {name: DataFrame}; an absent name means
the run did not produce it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from bptt_bench.experiments.echo import expected_level
from bptt_bench.analysis.learnable_lag import LEARNED_MEAN, lag_summary, of_cell
from bptt_bench.analysis.learning import decay_per_step
from bptt_bench.analysis.settings import label
from bptt_bench.tasks import echo_levels

VERDICTS = ("holds", "fails", "partly", "not tested")
CLAIMS_COLUMNS = ["claim_id", "source", "claim", "test", "verdict", "evidence", "figure"]
MEMORY_COLUMNS = ("peak_rss_bytes", "framework_peak_bytes", "analytic_activation_bytes")  # first present is used


class Verdict(NamedTuple):
    verdict: str
    evidence: str


@dataclass(frozen=True)
class Claim:
    claim_id: str
    source: str
    claim: str
    test: str
    figure: str
    needs: dict[str, tuple[str, ...]]  # table -> columns the check reads
    check: Callable[[dict[str, pd.DataFrame]], Verdict] = field(repr=False)


def _by_count(passed: int, total: int) -> str:
    return "holds" if passed == total else "fails" if passed == 0 else "partly"


def _ok(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"].eq("ok")] if "status" in table else table


def _setting(method, k1, k2) -> str:
    return label(method, k1, k2)


def _final(table: pd.DataFrame, run_columns) -> pd.DataFrame:
    """The last row (largest sequences_seen) of every run."""
    keys = [c for c in run_columns if c in table]
    return table.sort_values("sequences_seen", kind="stable").groupby(keys, dropna=False, sort=False).tail(1)


TRAINING_RUN = ["impl", "task", "method", "k1", "k2", "lag", "T", "B", "H", "dtype", "lr", "clip", "seed", "regime"]


def _memory_column(rows: pd.DataFrame) -> str | None:
    return next((c for c in MEMORY_COLUMNS if c in rows and rows[c].notna().any()), None)


def _same_cell_pairs(bench: pd.DataFrame, method: str) -> pd.DataFrame:
    """Rows of `method` joined with the ok BPTT row of the same impl, T and sizes (suffix _bptt)."""
    ok = _ok(bench)
    keys = [c for c in ("impl", "T", "B", "H", "D", "O", "dtype", "threads", "mode", "cell", "grid") if c in ok]
    bptt = ok[ok["method"].eq("bptt")]
    if "grid" in keys:  # the same cell may be measured in several grids; BPTT from any grid is the same cell
        keys.remove("grid")
        bptt = bptt.drop_duplicates(keys)
    return ok[ok["method"].eq(method)].merge(bptt, on=keys, suffixes=("", "_bptt"))


# -- the BPTT article -------------------------------------------------------------------------


def tbptt_cost(tables) -> Verdict:
    pairs = _same_cell_pairs(tables["benchmarks"], "tbptt")
    if pairs.empty:
        return Verdict("not tested", "no TBPTT cell has an ok BPTT cell of the same impl, T and sizes")
    pairs = pairs[pairs["T"].eq(pairs.groupby("impl")["T"].transform("max"))]
    ratio = pairs["time_median_s"] / pairs["time_median_s_bptt"]
    parts = [f"{row.impl} {_setting('tbptt', row.k1, row.k2)} {r:.2f}x" for row, r in zip(pairs.itertuples(), ratio)]
    T = ", ".join(str(int(t)) for t in sorted(pairs["T"].unique()))
    return Verdict(_by_count(int((ratio < 1).sum()), len(ratio)),
                   f"time per sequence against BPTT at T = {T}: " + "; ".join(parts))


def truncation_bias(tables) -> Verdict:
    bias = tables["gradient_bias"]
    short = bias[bias["k2"] < bias["T"]]
    if short.empty:
        return Verdict("not tested", "no truncation shorter than T in the gradient-bias table")
    error = short.groupby(["k1", "k2"])["relative_error"].mean()
    biased = error > 1e-6
    parts = [f"TBPTT({int(k1)}, {int(k2)}) {value:.2g}" for (k1, k2), value in error.items()]
    return Verdict(_by_count(int(biased.sum()), len(biased)),
                   f"{int(biased.sum())} of {len(biased)} truncations with k2 < T have mean relative error "
                   f"> 1e-6: " + "; ".join(parts))


PRIMARY_REGIME = "gradient"  # one update per sequence for every setting: isolates truncation's bias


def _lag_summary(tables) -> pd.DataFrame:
    """`learnable_lag.lag_summary` of the primary regime (test accuracy at each setting's chosen lr), Elman cell."""
    runs = of_cell(tables["learnable_lag"])
    runs = runs[runs["regime"].eq(PRIMARY_REGIME)]
    return lag_summary(runs) if len(runs) else pd.DataFrame()


def _control(summary: pd.DataFrame, lags) -> str:
    """The readout-only floor at these lags, for the evidence text."""
    control = summary[summary["method"].eq("readout_only")].set_index("lag")["accuracy"]
    shown = [f"{control[lag]:.2f} (L = {int(lag)})" for lag in sorted(set(lags)) if lag in control.index]
    return ("readout-only floor " + ", ".join(shown)) if shown else "no readout-only control at these lags"


def long_dependencies(tables) -> Verdict:
    summary = _lag_summary(tables)
    if summary.empty:
        return Verdict("not tested", f"no {PRIMARY_REGIME}-regime runs in the learnable-lag table")
    tbptt = summary[summary["method"].eq("tbptt")]
    beyond = tbptt[tbptt["lag"] > tbptt["reach"]]  # reach k2 - 1: lag L needs L + 1 steps of backpropagation
    if beyond.empty:
        return Verdict("not tested", "no lag beyond any TBPTT setting's reach k2 - 1")
    control = summary[summary["method"].eq("readout_only")].set_index("lag")["learned"]
    floor = beyond["lag"].map(control).fillna(False).astype(bool)  # the untrained recurrence learns it too
    learned_beyond = beyond[beyond["learned"] & ~floor]
    evidence = (f"{PRIMARY_REGIME} regime at each setting's chosen lr: {len(learned_beyond)} of {len(beyond)} "
                f"(TBPTT setting, lag >= k2) pairs learned (mean test accuracy >= {LEARNED_MEAN}, bootstrap lower "
                f"bound above chance) beyond what the readout-only control learns")
    if beyond["learned"].any() and floor[beyond["learned"]].any():
        evidence += f" ({int((beyond['learned'] & floor).sum())} more learned where the control learns too)"
    if len(learned_beyond):
        evidence += ": " + ", ".join(f"{_setting('tbptt', r.k1, r.k2)} at L = {int(r.lag)} ({r.accuracy:.2f})"
                                     for r in learned_beyond.itertuples())
        return Verdict("fails", evidence + "; " + _control(summary, learned_beyond["lag"]))
    bptt = summary[summary["method"].eq("bptt")]
    bptt_far = bptt[(bptt["lag"] > tbptt["reach"].max()) & bptt["learned"]
                    & ~bptt["lag"].map(control).fillna(False).astype(bool)]
    evidence += (f"; BPTT learned lags {sorted(int(v) for v in bptt_far['lag'])} beyond every TBPTT reach"
                 if len(bptt_far) else "; BPTT learned no lag beyond the TBPTT reach (and the control) either")
    evidence += "; " + _control(summary, beyond["lag"])
    return Verdict("holds" if len(bptt_far) else "partly", evidence)


def _factors(factors: dict[float, float]) -> str:
    return ", ".join(f"radius {r:g}: x{f:.3g}" for r, f in factors.items())


def vanishing_exploding(tables) -> Verdict:
    factors = decay_per_step(tables["gradient_decay"])
    vanishes = any(f <= 0.9 for f in factors.values())
    explodes = any(f >= 1.1 for f in factors.values())
    return Verdict(_by_count(vanishes + explodes, 2),
                   f"vanishing seen: {vanishes}, exploding seen: {explodes}; per-step factor of "
                   f"||dL_T/dh_(T-k)||: {_factors(factors)}")


def truncation_tames_exploding(tables) -> Verdict:
    norms = tables["truncated_norms"]
    mean = norms.groupby(["radius", "method", "k2"], dropna=False)["grad_norm"].mean().reset_index()
    bptt = mean[mean["method"].eq("bptt")].set_index("radius")["grad_norm"]
    calm = bptt[bptt.index <= 1]
    if calm.empty:
        return Verdict("not tested", "no spectral radius <= 1 to compare BPTT's norm with")
    exploding = bptt[(bptt.index > 1) & (bptt >= 10 * calm.max())]
    if exploding.empty:
        return Verdict("partly", f"BPTT's gradient norm never exceeded 10x its largest value at radius <= 1 "
                                 f"({calm.max():.3g}): nothing exploded to tame")
    tbptt = mean[mean["method"].eq("tbptt") & mean["radius"].isin(exploding.index)]
    ratio = exploding.reindex(tbptt["radius"]).to_numpy() / tbptt["grad_norm"].to_numpy()
    parts = [f"radius {r:g} TBPTT({int(k)}, {int(k)}) {x:.3g}x smaller" for r, k, x in zip(tbptt["radius"], tbptt["k2"], ratio)]
    return Verdict(_by_count(int((ratio >= 10).sum()), len(ratio)),
                   f"BPTT's norm explodes at radius {', '.join(f'{r:g}' for r in exploding.index)}; "
                   + "; ".join(parts))


TARGET_TOLERANCE = 0.01  # nats: a derivative-free run's target is its final loss plus this


def _time_to(curve: pd.DataFrame, target: float) -> float:
    reached = curve[curve["loss"] <= target]["wall_s"]
    return float(reached.min()) if len(reached) else math.inf


def bptt_vs_derivative_free(tables) -> Verdict:
    runs = tables["derivative_free"].sort_values("wall_s")
    bptt = runs[runs["optimizer"].eq("bptt_sgd")]
    others = sorted(set(runs["optimizer"]) - {"bptt_sgd"})
    if bptt.empty or not others:
        return Verdict("not tested", "needs bptt_sgd and at least one derivative-free optimiser")
    speedups, parts = [], []
    for name in others:
        for seed, curve in runs[runs["optimizer"].eq(name)].groupby("seed"):
            target = curve["loss"].iloc[-1] + TARGET_TOLERANCE
            theirs, ours = _time_to(curve, target), _time_to(bptt[bptt["seed"].eq(seed)], target)
            speedup = theirs / max(ours, 1e-9) if math.isfinite(ours) else 0.0
            speedups.append(speedup)
            parts.append(f"{name} seed {seed}: target {target:.3f} in {theirs:.2g} s, BPTT-SGD "
                         + (f"in {ours:.2g} s ({speedup:.3g}x sooner)" if math.isfinite(ours) else "never"))
    speedups = np.array(speedups)
    verdict = "holds" if (speedups >= 10).all() else "fails" if (speedups < 1).any() else "partly"
    return Verdict(verdict, f"budget {runs['budget_s'].iloc[0]:g} s each; " + "; ".join(parts))


# -- the literature ----------------------------------------------------------------------------


def williams_peng(tables) -> Verdict:
    summary = _lag_summary(tables)
    if summary.empty:
        return Verdict("not tested", f"no {PRIMARY_REGIME}-regime runs in the learnable-lag table")
    double = summary[summary["method"].eq("tbptt") & summary["k2"].eq(2 * summary["k1"])]
    bptt = summary[summary["method"].eq("bptt")].set_index("lag")["accuracy"]
    within = double[double["lag"] < double["k2"]]
    within = within[within["lag"].isin(bptt.index)]
    if within.empty:
        return Verdict("not tested", "no TBPTT(h', 2h') beside BPTT at a lag < 2h' in the learnable-lag runs")
    gap = (within["accuracy"] - bptt.reindex(within["lag"]).to_numpy()).abs()
    close = bool((gap <= 0.05).all())
    evidence = (f"{PRIMARY_REGIME} regime at each setting's chosen lr: mean test accuracy within 0.05 of BPTT at "
                f"every lag < k2: {close} (largest gap {gap.max():.3f} over {len(gap)} (setting, lag) pairs; "
                f"{_control(summary, within['lag'])})")
    cost = _same_cell_pairs(tables["benchmarks"], "tbptt") if "benchmarks" in tables else pd.DataFrame()
    cost = cost[cost["k2"].eq(2 * cost["k1"])] if len(cost) else cost
    if cost.empty:
        return Verdict("partly" if close else "fails", evidence + "; no TBPTT(h', 2h') benchmark cell for the cost")
    cost = cost[cost["T"].eq(cost["T"].max())]
    ratio = cost["time_median_s"] / cost["time_median_s_bptt"]
    cheaper = bool((ratio < 1).all())
    evidence += "; time against BPTT at T = %d: " % cost["T"].iloc[0] + ", ".join(
        f"{r.impl} {_setting('tbptt', r.k1, r.k2)} {x:.2f}x" for r, x in zip(cost.itertuples(), ratio))
    return Verdict(_by_count(close + cheaper, 2), evidence)


def aicher_copy(tables) -> Verdict:
    training = tables["training"]
    copy = training[training["task"].eq("copy_memory") & training["method"].isin(["bptt", "tbptt"])]
    if copy.empty:
        return Verdict("not tested", "no copy-memory runs in the training table")
    runs = _final(copy, TRAINING_RUN).fillna({"loss": math.inf})
    mean = runs.groupby(["method", "k1", "k2", "lag", "T", "baseline_loss"], dropna=False)["loss"].mean().reset_index()
    depth = mean["k2"].fillna(mean["T"])
    below = mean[depth <= mean["lag"]]
    above = mean[depth > mean["lag"]]
    failed_below = below["loss"] >= 0.9 * below["baseline_loss"]
    learned_above = above["loss"] < 0.5 * above["baseline_loss"]
    parts = [f"{_setting(r.method, r.k1, r.k2)} {r.loss / r.baseline_loss:.2f}" for r in mean.itertuples()]
    evidence = (f"lag {int(mean['lag'].iloc[0])}; final loss / memoryless baseline: " + "; ".join(parts)
                + f"; below the lag: {int(failed_below.sum())} of {len(below)} stay >= 0.9, "
                f"above: {int(learned_above.sum())} of {len(above)} reach < 0.5")
    if below.empty:
        return Verdict("not tested", "no setting with k2 at or below the lag: " + evidence)
    if not failed_below.all():
        return Verdict("fails", evidence)
    return Verdict("holds" if learned_above.any() else "partly", evidence)


def _checkpointed(tables) -> pd.DataFrame:
    pairs = _same_cell_pairs(tables["benchmarks"], "checkpointed")
    if pairs.empty:
        return pairs
    column = _memory_column(pairs)
    return pairs.assign(time_ratio=pairs["time_median_s"] / pairs["time_median_s_bptt"],
                        memory_ratio=pairs[column] / pairs[f"{column}_bptt"], memory_column=column)


def _at_sqrt_spacing(pairs: pd.DataFrame) -> pd.DataFrame:
    """The checkpointed cells whose spacing c is nearest sqrt(T), per impl and T: the spacing whose
    memory the claims are about (a checkpoint spacing grid's c = T/4 is not sublinear by design)."""
    if "segment" not in pairs or pairs["segment"].isna().all():
        return pairs
    distance = (pairs["segment"] - np.sqrt(pairs["T"])).abs()
    return pairs[distance.eq(distance.groupby([pairs["impl"], pairs["T"]]).transform("min"))]


def _spacing(row) -> str:
    segment = getattr(row, "segment", None)
    return "" if segment is None or segment != segment else f" c={segment:g}"


def chen_checkpointing(tables) -> Verdict:
    pairs = _checkpointed(tables)
    if pairs.empty:
        return Verdict("not tested", "no checkpointed cell beside an ok BPTT cell of the same impl, T and sizes")
    largest = _at_sqrt_spacing(pairs[pairs["T"].eq(pairs["T"].max())])
    T = int(largest["T"].iloc[0])
    fast = bool((largest["time_ratio"] <= 1.5).all())
    small = bool((largest["memory_ratio"] <= 4 / math.sqrt(T)).all())
    parts = [f"{r.impl}{_spacing(r)}: time {r.time_ratio:.2f}x, memory {r.memory_ratio:.3f}x"
             for r in largest.itertuples()]
    return Verdict(_by_count(fast + small, 2),
                   f"at T = {T} ({largest['memory_column'].iloc[0]}; bounds 1.5x time, 4/sqrt(T) = "
                   f"{4 / math.sqrt(T):.3f}x memory): " + "; ".join(parts))


def gruslys_checkpointing(tables) -> Verdict:
    pairs = _checkpointed(tables)
    pairs = pairs[pairs["T"].between(500, 2000)] if len(pairs) else pairs
    if pairs.empty:
        return Verdict("not tested", "no checkpointed cell with 500 <= T <= 2000 beside an ok BPTT cell")
    near = _at_sqrt_spacing(pairs[(pairs["T"] - 1000).abs().eq((pairs["T"] - 1000).abs().min())])
    saved = bool((near["memory_ratio"] <= 0.10).all())
    fast = bool((near["time_ratio"] <= 1.5).all())
    parts = [f"{r.impl}{_spacing(r)}: {100 * (1 - r.memory_ratio):.0f}% memory saved, time {r.time_ratio:.2f}x"
             for r in near.itertuples()]
    return Verdict(_by_count(saved + fast, 2), f"at T = {int(near['T'].iloc[0])} (theirs: 95% saved, 1.33x time; "
                   "criterion >= 90% and <= 1.5x): " + "; ".join(parts))


def pascanu_radius(tables) -> Verdict:
    factors = decay_per_step(tables["gradient_decay"])
    below = {r: f for r, f in factors.items() if r < 1}
    if not below:
        return Verdict("not tested", "no spectral radius below 1 in the gradient-decay table")
    vanish_below = all(f < 1 for f in below.values())
    explode_only_above = all(r > 1 for r, f in factors.items() if f > 1)
    return Verdict("holds" if vanish_below and explode_only_above else "fails",
                   f"every radius < 1 vanishes: {vanish_below}; growth only above radius 1: {explode_only_above} "
                   f"({_factors(factors)}); the table holds the spectral radius, a lower bound of the largest "
                   "singular value the theorem names")


def geometric_decay(tables) -> Verdict:
    decay = tables["gradient_decay"]
    mean = decay.groupby(["radius", "k"])["grad_norm"].mean()
    fits = {}
    for radius, line in mean.groupby(level="radius"):
        k, log_norm = line.index.get_level_values("k").to_numpy(), np.log(line.to_numpy())
        if np.ptp(log_norm) == 0:
            continue
        r = np.corrcoef(k, log_norm)[0, 1]
        if np.polyfit(k, log_norm, 1)[0] < 0:
            fits[float(radius)] = r * r
    if not fits:
        return Verdict("not tested", "no radius whose gradient norm falls with k")
    good = sum(value >= 0.9 for value in fits.values())
    return Verdict(_by_count(good, len(fits)), "R^2 of log norm against k where it falls: "
                   + ", ".join(f"radius {r:g}: {v:.3f}" for r, v in fits.items()) + " (criterion >= 0.9)")


def detach_equals_tbptt(tables) -> Verdict:
    peers = tables["peer_check"]
    ok = _ok(peers)
    if ok.empty:
        reason = peers["reason"].dropna().iloc[0] if "reason" in peers and peers["reason"].notna().any() else "no rows"
        return Verdict("not tested", f"peer check not run: {reason}")
    divides = ok[ok["k_divides_T"].astype(bool)]
    other = ok[~ok["k_divides_T"].astype(bool)]
    equal = bool((divides["max_relative_difference"] <= 1e-9).all()) and len(divides) > 0
    differ = bool((other["max_relative_difference"] >= 1e-6).all()) and len(other) > 0
    parts = [f"T = {int(r.T)}, k = {int(r.k)} {r.impl}: {r.max_relative_difference:.2g}" for r in ok.itertuples()]
    return Verdict(_by_count(equal + differ, 2),
                   "largest relative parameter difference to PyTorch-Ignite after one sequence (float64; "
                   "criterion <= 1e-9 when k divides T, >= 1e-6 otherwise): " + "; ".join(parts))


# -- the echo task -------------------------------------------------------------------------------


def _echo_final(tables) -> pd.DataFrame:
    """Mean, SD and count of the final loss per (H, k), indexed by (H, k1)."""
    echo = tables["echo"]
    echo = echo if "H" in echo else echo.assign(H=-1)  # a table of one hidden size that does not name it
    runs = _final(echo, TRAINING_RUN).fillna({"loss": math.inf})
    return runs.groupby(["H", "k1"])["loss"].agg(["mean", "std", "count"]).fillna({"std": 0.0})


def _echo_name(H, k, final: pd.DataFrame) -> str:
    """'k = 5', or 'H = 8, k = 5' where the runs have several H."""
    return f"H = {int(H)}, k = {int(k)}" if final.index.get_level_values("H").nunique() > 1 else f"k = {int(k)}"


def echo_truncation(tables) -> Verdict:
    levels, final = echo_levels(), _echo_final(tables)
    middles = {3: (levels["none"] + levels["lag3"]) / 2, 8: (levels["lag3"] + levels["both"]) / 2}
    broken = [(H, k, lag) for (H, k), row in final.iterrows() for lag, middle in middles.items()
              if k <= lag and row["mean"] < middle]
    learnable = [k for (_, k), row in final.iterrows() if k > 3 and row["mean"] < middles[3]]
    evidence = ("mean final loss: " + ", ".join(f"{_echo_name(H, k, final)}: {row['mean']:.4f}" for (H, k), row in final.iterrows())
                + f"; midpoints between levels {middles[3]:.4f} (lag 3), {middles[8]:.4f} (lag 8)")
    if broken:
        return Verdict("fails", evidence + "; below the midpoint though k <= lag: "
                       + ", ".join(f"{_echo_name(H, k, final)} (lag {lag})" for H, k, lag in broken))
    if not any(k <= 3 for _, k in final.index):
        return Verdict("not tested", "no k <= 3 in the echo runs; " + evidence)
    return Verdict("holds" if learnable else "partly", evidence)


def echo_levels_match(tables) -> Verdict:
    levels, final = echo_levels(), _echo_final(tables)
    parts, matched = [], 0
    for (H, k), row in final.iterrows():
        expected = levels[expected_level(int(k))]
        tolerance = max(2 * row["std"], 0.01)
        ok = abs(row["mean"] - expected) <= tolerance
        matched += ok
        parts.append(f"{_echo_name(H, k, final)}: {row['mean']:.4f} vs {expected:.4f} ({expected_level(int(k))}) "
                     f"{'within' if ok else 'outside'} {tolerance:.3f}")
    verdict = "holds" if matched == len(final) else "partly" if matched >= len(final) / 2 else "fails"
    return Verdict(verdict, "; ".join(parts) + " (tolerance: 2 seed SDs, at least 0.01)")


# -- the register ---------------------------------------------------------------------------------

BENCH = ("impl", "method", "T", "k1", "k2", "status", "time_median_s")
TRAINING = ("impl", "task", "method", "k1", "k2", "lag", "seed", "sequences_seen", "accuracy", "loss")
LEARNABLE_LAG = ("regime", "method", "k1", "k2", "lag", "seed", "lr", "lr_chosen", "sequences_seen", "test_accuracy",
                 "status", "chance_accuracy", "T")

CLAIMS = (
    Claim("tbptt_cost", "BPTT article (Wikipedia)", "TBPTT reduces the computational cost per sequence against BPTT.",
          "time per sequence of every TBPTT cell < that of BPTT at the same impl, sizes and the largest common T",
          "time_vs_T", {"benchmarks": BENCH}, tbptt_cost),
    Claim("truncation_bias", "BPTT article; Tallec & Ollivier 2017", "Truncation biases the gradient.",
          "mean relative error ||G_TBPTT - G_BPTT|| / ||G_BPTT|| > 1e-6 for every truncation with k2 < T",
          "gradient_bias", {"gradient_bias": ("k1", "k2", "T", "relative_error")}, truncation_bias),
    Claim("long_dependencies", "BPTT article", "TBPTT struggles with dependencies longer than its truncation.",
          f"gradient regime, chosen lr: no TBPTT(k1, k2) learns (mean test accuracy >= {LEARNED_MEAN}, bootstrap "
          "lower bound above chance) a delayed-recall lag >= k2 that the readout-only control does not, while BPTT "
          "learns such a lag", "learnable_lag", {"learnable_lag": LEARNABLE_LAG}, long_dependencies),
    Claim("vanishing_exploding", "BPTT article", "BPTT suffers from vanishing and exploding gradients.",
          "fitted per-step factor of ||dL_T/dh_(T-k)|| <= 0.9 at some spectral radius and >= 1.1 at another",
          "gradient_decay", {"gradient_decay": ("radius", "k", "grad_norm")}, vanishing_exploding),
    Claim("truncation_tames_exploding", "BPTT article", "Truncation helps against exploding gradients.",
          "where BPTT's gradient norm exceeds 10x its value at radius <= 1, every TBPTT(k, k) norm is >= 10x smaller",
          "truncated_norms", {"truncated_norms": ("radius", "method", "k2", "grad_norm")}, truncation_tames_exploding),
    Claim("bptt_vs_derivative_free", "BPTT article",
          "BPTT trains RNNs much faster than general-purpose optimisation.",
          "time to reach each derivative-free run's final held-out loss + 0.01 nats: BPTT-SGD >= 10x sooner "
          "(equal budgets of optimiser seconds)",
          "derivative_free", {"derivative_free": ("optimizer", "seed", "wall_s", "loss", "budget_s")},
          bptt_vs_derivative_free),
    Claim("williams_peng", "Williams & Peng 1990", "BPTT(2h'; h') learns about as well as full BPTT at lower cost.",
          "gradient regime, chosen lr: TBPTT(h', 2h') within 0.05 of BPTT's mean test accuracy at every lag < 2h', "
          "and faster per sequence", "learnable_lag", {"learnable_lag": LEARNABLE_LAG}, williams_peng),
    Claim("aicher_copy", "Aicher, Foti & Fox 2019", "TBPTT with K below the lag fails on the copy task.",
          "every setting with k2 <= lag ends at >= 0.9 of the memoryless loss; some with k2 > lag below 0.5 of it",
          "loss_curves", {"training": TRAINING + ("baseline_loss", "T")}, aicher_copy),
    Claim("chen_checkpointing", "Chen et al. 2016", "Checkpointing gives sublinear memory for one extra forward pass.",
          "checkpointed BPTT (c nearest sqrt(T)) at the largest T: time <= 1.5x BPTT's and memory <= "
          "4/sqrt(T) of BPTT's",
          "memory_vs_T", {"benchmarks": BENCH}, chen_checkpointing),
    Claim("gruslys_checkpointing", "Gruslys et al. 2016",
          "At T = 1000, memory-efficient BPTT saves 95% of BPTT's memory for a third more time.",
          "checkpointed BPTT (c nearest sqrt(T)) at the T nearest 1000: >= 90% memory saved and <= 1.5x "
          "BPTT's time",
          "memory_vs_T", {"benchmarks": BENCH}, gruslys_checkpointing),
    Claim("pascanu_radius", "Pascanu, Mikolov & Bengio 2013",
          "Largest singular value below 1/gamma is sufficient for vanishing; above it necessary for exploding.",
          "every spectral radius < 1 has a per-step factor < 1, and growth appears only above radius 1",
          "gradient_decay", {"gradient_decay": ("radius", "k", "grad_norm")}, pascanu_radius),
    Claim("geometric_decay", "Aicher, Foti & Fox 2019", "Gradient norms decay geometrically with the lag.",
          "log ||dL_T/dh_(T-k)|| is linear in k (R^2 >= 0.9) at every radius where it falls",
          "gradient_decay", {"gradient_decay": ("radius", "k", "grad_norm")}, geometric_decay),
    Claim("detach_equals_tbptt", "PyTorch-Ignite; docs/method.md",
          "Detach-every-k (ignite's TBPTT trainer) equals TBPTT(k, k) only when k divides T.",
          "final parameters after one sequence differ by <= 1e-9 (float64) when k divides T and by >= 1e-6 otherwise",
          "", {"peer_check": ("status",)}, detach_equals_tbptt),
    Claim("echo_truncation", "R2RT 2016", "Truncation below a lag loses that lag's information.",
          "on echo, every TBPTT(k, k) with k <= L ends above the midpoint between the levels with and without "
          "lag L (L = 3, 8), while some k > 3 gets below the lag-3 midpoint", "echo",
          {"echo": ("k1", "seed", "sequences_seen", "loss")}, echo_truncation),
    Claim("echo_levels", "R2RT 2016; docs/experiments.md",
          "TBPTT(k, k) on echo plateaus at the exact level of the lags its truncation reaches.",
          "every k's mean final loss within 2 seed SDs (at least 0.01) of the level its truncation allows",
          "echo", {"echo": ("k1", "seed", "sequences_seen", "loss")}, echo_levels_match),
)


def verdict(claim: Claim, tables: dict[str, pd.DataFrame]) -> Verdict:
    """The claim's verdict on these tables; 'not tested' with the reason if an input is absent or empty."""
    for name, columns in claim.needs.items():
        table = tables.get(name)
        if table is None:
            return Verdict("not tested", f"table {name} was not produced in this run")
        if table.empty:
            return Verdict("not tested", f"table {name} has no rows")
        missing = [c for c in columns if c not in table]
        if missing:
            return Verdict("not tested", f"table {name} lacks column(s) {', '.join(missing)}")
    result = claim.check(tables)
    if result.verdict not in VERDICTS:
        raise ValueError(f"claim {claim.claim_id}: verdict {result.verdict!r} is not one of {VERDICTS}")
    return result


def claims_table(tables: dict[str, pd.DataFrame], claims=CLAIMS) -> pd.DataFrame:
    """One row per claim (CLAIMS_COLUMNS)."""
    rows = []
    for claim in claims:
        result = verdict(claim, tables)
        rows.append(dict(claim_id=claim.claim_id, source=claim.source, claim=claim.claim, test=claim.test,
                         verdict=result.verdict, evidence=result.evidence, figure=claim.figure))
    return pd.DataFrame(rows, columns=CLAIMS_COLUMNS)


def read_tables(paths: dict[str, str]) -> dict[str, pd.DataFrame]:
    """{name: DataFrame} from CSV or Parquet paths; a path that does not exist is left out."""
    from pathlib import Path

    tables = {}
    for name, path in paths.items():
        path = Path(path)
        if path.exists():
            tables[name] = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return tables
