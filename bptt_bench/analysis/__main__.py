"""README's numbers from a finished study, by the same tested functions as the figures and findings.

    python -m bptt_bench.analysis [results_dir] [--configfile config/config.yaml] [--T 1024]

prints Markdown bullets (the section "Numbers from the reference machine" of README).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml

from bptt_bench.analysis import benchmarks as bench
from bptt_bench.analysis import learnable_lag, learning, settings


def bullets(
    benchmarks: pd.DataFrame,
    training: pd.DataFrame | None,
    bias: pd.DataFrame | None,
    sizes: dict,
    T: int,
    lags: pd.DataFrame | None = None,
) -> list[str]:
    """The headline numbers as Markdown bullets; benchmarks is the whole table, sizes selects its configuration."""
    table = benchmarks[(benchmarks[list(sizes)] == pd.Series(sizes)).all(axis=1)]
    rows = bench.scaling_block(table)
    out = []
    at_T = bench.cell_summary(rows, "BPTT", T)
    if len(at_T):
        r0 = rows.iloc[0]
        parts = [
            f"{r.impl} {r.time_median_s:.3g} s ({100 * r.peak_fraction:.0f} % of the machine peak, "
            f"{100 * r.peak_fraction / r.own_gemm_fraction:.0f} % of its own GEMM rate)"
            for r in at_T.itertuples()
        ]
        out.append(
            f"- **BPTT, T={T}, B={r0['B']:g}, D={r0['D']:g}, H={r0['H']:g}, O={r0['O']:g}, {r0['dtype']}**: "
            + "; ".join(parts)
            + "."
        )
    growth = bench.memory_growth(rows)
    for measure, words in (
        (bench.SHARED_MEMORY, "peak RSS above baseline"),
        (bench.NATIVE_MEMORY, "native peak"),
    ):
        g = growth[growth["measure"] == measure]
        if len(g):
            model = growth[growth["measure"] == bench.MODEL_MEMORY].set_index(["setting", "impl"])["ratio"].to_dict()
            out.append(
                f"- **Memory ({words})**: BPTT grows "
                + ", ".join(
                    f"×{r.ratio:.3g} ({r.setting}, {r.impl}, T={r.T_low}→{r.T_high}; "
                    f"model ×{model.get((r.setting, r.impl), float('nan')):.3g})"
                    for r in g.itertuples()
                )
                + "."
            )
    spread = bench.flat_spread(rows, bench.SHARED_MEMORY)
    if len(spread):
        worst = spread.loc[spread["spread"].idxmax()]
        out.append(
            f"- **TBPTT memory across T**: peak RSS varies by at most ×{1 + worst['spread']:.3g} "
            f"({worst['setting']}, {worst['impl']})."
        )
    if training is not None and training["task"].eq("delayed_recall").any():
        learned = learning.largest_learned_lag(training)
        out.append(
            f"- **Learnable lag** (mean final accuracy ≥ {learning.LEARNED}): "
            + ", ".join(f"{s} {'none' if lag is None else lag}" for s, lag in learned.items())
            + "."
        )
    if lags is not None and len(lags):
        summary = learnable_lag.lag_summary(lags)
        cells = learnable_lag.cells(summary)
        for cell in cells:
            largest = learnable_lag.largest_learned_lag(summary, cell)
            for regime in dict.fromkeys(key[0] for key in largest):
                out.append(
                    f"- **Learnable lag, {regime if len(cells) == 1 else f'{cell}, {regime}'}** (mean test accuracy "
                    f"≥ {learnable_lag.LEARNED_MEAN:g}, bootstrap low end above chance): "
                    + ", ".join(
                        f"{settings.label(*key[1:])} {'none' if lag is None else lag}"
                        for key, lag in largest.items()
                        if key[0] == regime
                    )
                    + "."
                )
    if bias is not None and len(bias):
        cells = bias["cell"] if "cell" in bias else pd.Series("rnn_tanh", index=bias.index)
        for cell, rows_cell in bias.groupby(cells, sort=False):
            by_k2 = rows_cell.groupby(["state", "k2"], sort=False)["cosine"].mean()
            out.append(
                f"- **Gradient bias, {cell}** (mean cosine to BPTT's gradient): "
                + "; ".join(
                    f"{state}: " + ", ".join(f"k2={k2:g} {c:.2f}" for (_, k2), c in line.items())
                    for state, line in by_k2.groupby(level="state", sort=False)
                )
                + "."
            )
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="results", type=Path)
    parser.add_argument("--configfile", default="config/config.yaml", type=Path)
    parser.add_argument("--T", type=int, default=1024)
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.configfile.read_text())["benchmark"]
    tables = args.results / "tables"

    def optional(name):
        path = tables / f"{name}.csv"
        return pd.read_csv(path) if path.exists() else None

    lines = bullets(
        pd.read_parquet(tables / "benchmarks.parquet"),
        optional("training"),
        optional("gradient_bias"),
        {k: config[k] for k in ("B", "H", "D", "O")},
        args.T,
        optional("learnable_lag"),
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
