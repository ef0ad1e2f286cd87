"""The benchmark figures render from a small synthetic table, failures and gaps included."""

import math

import numpy as np
import pandas as pd
import pytest

from bptt_bench.costmodel import cost
from bptt_bench.analysis import benchmarks as analysis
from bptt_bench.analysis import settings
from bptt_bench.figures import benchmarks
from bptt_bench.tables import BENCHMARK_COLUMNS, rows_to_table

SIZES = dict(B=8, H=64, D=16, O=10)
GFLOPS = {"numpy": 5.0, "torch": 20.0, "jax": 40.0}  # achieved rate of each synthetic framework
PEAK_GFLOPS = 100.0
FAILED = {  # (impl, method, T, k1, k2) -> status
    ("numpy", "bptt", 4096, None, None): "timeout",
    ("torch", "tbptt", 1024, 64, 64): "oom",
}


def _row(impl, method, T, k1=None, k2=None, grid=None):
    c = cost(method, T, dtype="float32", k1=k1, k2=k2, **SIZES)
    status = FAILED.get((impl, method, T, k1, k2), "ok")
    updates = math.ceil(T / k1) if k1 else 1
    seconds = c.flops / (GFLOPS[impl] * 1e9) + 1e-5 * c.forward_steps + 2e-4 * updates  # + Python overhead
    row = dict.fromkeys(BENCHMARK_COLUMNS, math.nan) | ({"grid": grid} if grid else {})
    row.update(
        impl=impl,
        method=method,
        T=T,
        k1=k1 if k1 else math.nan,
        k2=k2 if k2 else math.nan,
        dtype="float32",
        threads=1,
        status=status,
        reason="" if status == "ok" else status,
        n_repeats=5,
        analytic_activation_bytes=c.activation_bytes,
        flops=c.flops,
        peak_gflops_per_s=PEAK_GFLOPS,
        **SIZES,
    )
    if status == "ok":
        row.update(
            time_median_s=seconds,
            time_iqr_s=0.1 * seconds,
            time_min_s=0.95 * seconds,
            compile_s=0.0,
            peak_rss_bytes=c.activation_bytes * 1.3 + 2**20 * (1 + T / 4096),
            framework_peak_bytes=c.activation_bytes * 1.1,
            gflops_per_s=c.flops / seconds / 1e9,
            peak_fraction=c.flops / seconds / 1e9 / PEAK_GFLOPS,
            loss=1.0,
            grad_norm=1.0,
        )
    return row


def synthetic_table(grid: bool = False) -> pd.DataFrame:
    """A scaling block (jax lacks TBPTT(32, 8)) and a 3 x 3 truncation block at T=1024 (jax lacks (4, 64)).

    grid: add the `grid` column (the config grid each row came from), as newer tables have.
    """
    scaling, truncation = ("scaling", "truncation") if grid else (None, None)
    rows = []
    for impl in GFLOPS:
        for T in (64, 256, 1024, 4096):
            rows.append(_row(impl, "bptt", T, grid=scaling))
            for k1, k2 in ((16, 16), (16, 32), (32, 8)):
                if (impl, k1, k2) != ("jax", 32, 8):
                    rows.append(_row(impl, "tbptt", T, k1, k2, grid=scaling))
        # (16, 16) at T=1024 is in both blocks: measured twice
        rows += [
            _row(impl, "tbptt", 1024, k1, k2, grid=truncation)
            for k1 in (4, 16, 64)
            for k2 in (4, 16, 64)
            if (impl, k1, k2) != ("jax", 4, 64)
        ]
    return rows_to_table(rows, BENCHMARK_COLUMNS + (["grid"] if grid else []))


PLOTS = [
    benchmarks.plot_time_vs_T,
    benchmarks.plot_memory_vs_T,
    benchmarks.plot_truncation_heatmaps,
    benchmarks.plot_peak_fraction,
]


@pytest.mark.parametrize("grid", [False, True], ids=["inferred blocks", "grid column"])
@pytest.mark.parametrize("plot", PLOTS, ids=lambda f: f.__name__)
def test_every_figure_writes_png_and_pdf(plot, grid, tmp_path):
    paths = plot(synthetic_table(grid), tmp_path / "figure")
    assert sorted(p.suffix for p in paths) == [".pdf", ".png"]
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_blocks_are_read_from_the_rows():
    table = synthetic_table()
    scaling = analysis.scaling_block(table)
    assert set(scaling["setting"]) == {"BPTT", "TBPTT(16, 16)", "TBPTT(16, 32)", "TBPTT(32, 8)"}
    T, truncation = analysis.truncation_block(table)
    grid = truncation[truncation["method"] == "tbptt"].drop_duplicates(["k1", "k2"])
    assert T == 1024 and len(grid) == 9 and set(grid["k1"]) == set(grid["k2"]) == {4, 16, 64}
    assert not analysis.cells(table).duplicated(analysis.CELL).any()


def test_summary_has_a_table_per_figure_naming_failures():
    summary = benchmarks.summarize(synthetic_table())
    assert set(summary) == {p.__name__.removeprefix("plot_") for p in PLOTS}
    assert all(entry["title"] and entry["says"] and entry["table"]["rows"] for entry in summary.values())
    assert any(n.startswith("numpy BPTT at T=4096: timeout") for n in summary["time_vs_T"]["notes"])
    assert any(
        n.startswith("torch TBPTT(64, 64) at T=1024: oom") for n in summary["truncation_heatmaps"]["notes"]
    )
    times = dict(
        (row[0], row[1:]) for row in summary["time_vs_T"]["table"]["rows"]
    )  # at T=4096, numpy timed out
    assert (
        summary["time_vs_T"]["table"]["columns"] == ["setting", "numpy", "torch", "jax"]
        and times["BPTT"][0] == "timeout"
    )


def test_the_time_table_says_which_cells_did_not_run_at_the_largest_T():
    table = synthetic_table()
    T_max = analysis.scaling_block(table)["T"].max()
    at_T = table["T"].eq(T_max) & table["method"].eq("tbptt")
    short = at_T & table["k1"].eq(32) & table["k2"].eq(8)  # as a grid that stops below T_max
    missing = at_T & table["k1"].eq(16) & table["k2"].eq(16) & table["impl"].eq("jax")
    summary = benchmarks.summarize(table[~(short | missing)])["time_vs_T"]
    times = {row[0]: row[1:] for row in summary["table"]["rows"]}
    assert "TBPTT(32, 8)" not in times and "TBPTT(16, 16)" in times
    assert times["TBPTT(16, 16)"][summary["table"]["columns"].index("jax") - 1] == "not run"
    assert f"TBPTT(32, 8): no cell at T={T_max:g} (its cells stop at T=1024)" in summary["notes"]
    assert "" not in (text for row in times.values() for text in row)


def test_a_study_without_a_block_gets_a_note_in_its_place(tmp_path):
    """A study with no truncation grid (config/gpu.yaml), or whose cells were all skipped (cuda without a GPU),
    still writes every figure and summary entry, saying why there is nothing to draw."""
    table = synthetic_table(grid=True)
    scaling_only = table[table["grid"].eq("scaling")]
    for plot in PLOTS:
        assert all(p.stat().st_size > 0 for p in plot(scaling_only, tmp_path / plot.__name__))
    summary = benchmarks.summarize(scaling_only)
    assert summary["truncation_heatmaps"]["says"].startswith("Nothing to draw in this study: no TBPTT cells")
    assert summary["time_vs_T"]["table"]["rows"]  # the scaling figures are still summarised
    skipped = table.assign(status="skipped", reason="no CUDA device")
    summary = benchmarks.summarize(skipped)
    assert summary["time_vs_T"]["says"] == "Nothing to draw in this study: no cell of the scaling block ran ok."
    assert set(summary) == {p.__name__.removeprefix("plot_") for p in PLOTS}


def test_two_configurations_are_refused():
    table = synthetic_table()
    table.loc[0, "H"] = 128
    with pytest.raises(ValueError, match="one configuration"):
        analysis.cells(table)


def test_settings_are_labelled_in_the_study_words():
    assert settings.label("bptt", np.nan, np.nan) == "BPTT"
    assert settings.label("tbptt", 16.0, 32.0) == "TBPTT(16, 32)"


@pytest.mark.parametrize("grid", [False, True], ids=["inferred blocks", "grid column"])
def test_gated_cells_are_their_own_settings(grid, tmp_path):
    """LSTM and GRU rows (their own grid, at the scaling T and at the truncation grid's T) become their own
    settings in the scaling block, and stay out of the Elman truncation grid's BPTT reference."""
    table = synthetic_table(grid).assign(cell="rnn_tanh")
    gated = []
    for cell in ("lstm", "gru"):
        for impl in GFLOPS:
            for T in (64, 256, 1024, 4096):
                for method, k1, k2 in (("bptt", None, None), ("tbptt", 16, 32)):
                    row = _row(impl, method, T, k1, k2, grid="cells" if grid else None)
                    c = cost(method, T, dtype="float32", k1=k1, k2=k2, cell=cell, **SIZES)
                    gated.append(row | dict(cell=cell, flops=c.flops, analytic_activation_bytes=c.activation_bytes))
    table = pd.concat([table, pd.DataFrame(gated)], ignore_index=True)
    scaling = analysis.scaling_block(table)
    assert {"LSTM BPTT", "LSTM TBPTT(16, 32)", "GRU BPTT", "GRU TBPTT(16, 32)"} <= set(scaling["setting"])
    T, truncation = analysis.truncation_block(table)
    assert T == 1024 and set(truncation["cell"]) == {"rnn_tanh"}
    assert truncation[truncation["method"] == "bptt"].groupby("impl").size().eq(1).all()
    for plot in PLOTS:
        assert all(p.exists() for p in plot(table, tmp_path / plot.__name__))


def test_a_panel_names_the_settings_outside_its_frameworks_grids():
    fig = benchmarks.draw_time_vs_T(synthetic_table(grid=True))
    titles = {ax.get_title().split("\n")[0]: ax.get_title() for ax in fig.axes if ax.get_title()}
    assert "not in its grids: TBPTT(32, 8)" in titles["jax"]
    assert "not in its grids" not in titles["numpy"]
