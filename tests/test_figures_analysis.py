"""The analysis behind the figures and findings, checked for exact values on tiny hand-made tables;
and one look per setting across every figure of the study."""

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.colors import to_hex
from test_figures_benchmarks import synthetic_table

from bptt_bench.analysis import benchmarks as bench
from bptt_bench.analysis import learning, settings
from bptt_bench.figures import benchmarks as bench_figures
from bptt_bench.figures import learning as learning_figures
from bptt_bench.figures.findings import findings_page
from bptt_bench.figures.style import BPTT, SettingStyle
from bptt_bench.study.config import check_config
from bptt_bench.study.grid import expand
from bptt_bench.study.learning import parts
from bptt_bench.tables import TRAINING_COLUMNS

NAN = math.nan


# -- settings ------------------------------------------------------------------------------


def test_settings_have_one_name_and_one_order():
    assert settings.label("bptt", NAN, NAN) == "BPTT"
    assert settings.label("tbptt", 16.0, 32.0) == "TBPTT(16, 32)"
    assert settings.label("checkpointed", segment=8) == "checkpointed BPTT(c=8)"
    assert settings.label("tbptt", 4, 8, cell="lstm") == "LSTM TBPTT(4, 8)"
    assert settings.label("bptt", cell="rnn_tanh") == settings.label("bptt", cell=NAN) == "BPTT"
    assert settings.ordered(
        [{"method": "bptt", "cell": "gru"}, ("tbptt", 2, 2), {"method": "bptt", "cell": "lstm"}]
    ) == ["TBPTT(2, 2)", "LSTM BPTT", "GRU BPTT"]
    records = [
        ("tbptt", 16, 4),
        ("tbptt", 4, 16),
        {"method": "checkpointed", "segment": 3},
        ("bptt", None, None),
        ("tbptt", 4, 8),
        ("tbptt", 4, 16),
    ]
    assert settings.ordered(records) == [
        "BPTT",
        "checkpointed BPTT(c=3)",
        "TBPTT(4, 8)",
        "TBPTT(4, 16)",
        "TBPTT(16, 4)",
    ]


def test_study_settings_are_the_lines_of_the_study():
    cells = [dict(method="bptt", k1=None, k2=None, T=T) for T in (8, 16)]
    cells += [dict(method="tbptt", k1=4, k2=4, T=T) for T in (8, 16)]
    cells += [dict(method="tbptt", k1=2, k2=k2, T=16) for k2 in (2, 4)]  # a heatmap grid at one T: no colour
    learning_parts = {
        "lag": {"seed0": {"settings": [("tbptt", 3, 3), ("bptt", None, None)]}},
        "decay": {"all": {}},
    }
    assert settings.study_settings(cells, learning_parts) == ["BPTT", "TBPTT(3, 3)", "TBPTT(4, 4)"]


def test_checkpointed_at_sqrt_T_is_one_setting_and_other_spacings_are_not_lines():
    cells = [dict(method="bptt", k1=None, k2=None, segment=None, T=T) for T in (64, 256)]
    cells += [dict(method="checkpointed", k1=None, k2=None, segment=c, T=T) for T, c in ((64, 8), (256, 16))]
    cells += [dict(method="checkpointed", k1=None, k2=None, segment=c, T=256) for c in (4, 64)]  # spacing grid
    assert settings.study_settings(cells, {}) == ["BPTT", settings.SQRT_SEGMENT]
    assert settings.scaling_label(1000, "checkpointed", segment=32) == settings.SQRT_SEGMENT  # ceil(31.6)
    assert settings.scaling_label(1000, "checkpointed", segment=31) == "checkpointed BPTT(c=31)"
    assert settings.scaling_label(64, "checkpointed", segment=8, cell="lstm") == "LSTM " + settings.SQRT_SEGMENT


def _default_style() -> SettingStyle:
    config = yaml.safe_load(open("config/config.yaml"))
    check_config(config)
    return SettingStyle(settings.study_settings(expand(config).values(), parts(config)))


def test_every_setting_of_the_default_study_has_its_own_colour():
    look = _default_style()
    assert look.colour("BPTT") == BPTT[0] and len(look.settings) >= 8
    colours = [look.colour(s) for s in look.settings]
    assert len(set(colours)) == len(colours)
    assert len({(look.colour(s), look.marker(s)) for s in look.settings}) == len(look.settings)


def test_a_setting_keeps_its_look_when_others_are_added():
    look = SettingStyle(["BPTT", "TBPTT(4, 4)", "TBPTT(8, 8)"])
    wider = look.extended(["TBPTT(2, 2)", "TBPTT(4, 4)"])
    for s in look.settings:
        assert (wider.colour(s), wider.marker(s)) == (look.colour(s), look.marker(s))
    assert wider.colour("TBPTT(2, 2)") not in {look.colour(s) for s in look.settings}


# -- benchmark table -------------------------------------------------------------------------


def _bench_row(
    impl,
    method,
    T,
    k1=NAN,
    k2=NAN,
    status="ok",
    time=1.0,
    rss=100.0,
    native=50.0,
    model=40.0,
    grid=None,
    **extra,
):
    row = dict(
        impl=impl,
        method=method,
        T=T,
        k1=k1,
        k2=k2,
        B=2,
        H=4,
        D=1,
        O=1,
        dtype="float32",
        threads=1,
        status=status,
        reason="" if status == "ok" else "why",
        n_repeats=3,
        time_median_s=time,
        time_iqr_s=0.0,
        peak_rss_bytes=rss,
        framework_peak_bytes=native,
        analytic_activation_bytes=model,
        peak_fraction=0.5,
        peak_gflops_per_s=100.0,
        impl_gemm_gflops_per_s=80.0,
    )
    return row | ({"grid": grid} if grid else {}) | extra


def test_cells_of_other_recurrent_cells_stay_apart():
    table = pd.DataFrame(
        [_bench_row("numpy", "bptt", 8, cell="rnn"), _bench_row("numpy", "bptt", 8, cell="lstm")]
    )
    assert sorted(bench.cells(table)["cell"]) == ["lstm", "rnn"]


def test_cells_keep_an_ok_row_over_a_failed_one_and_join_grid_names():
    table = pd.DataFrame(
        [
            _bench_row("numpy", "bptt", 8, status="timeout", grid="truncation"),
            _bench_row("numpy", "bptt", 8, grid="scaling"),
        ]
    )
    cells = bench.cells(table)
    assert len(cells) == 1 and cells["ok"].item() and cells["grid"].item() == "scaling,truncation"
    assert bench.in_grid(cells, "truncation").item() and not bench.in_grid(cells, "scal").item()


def test_blocks_are_selected_by_grid_name_when_rows_carry_it():
    table = synthetic_table(grid=True)
    assert set(bench.scaling_block(table)["setting"]) == {
        "BPTT",
        "TBPTT(16, 16)",
        "TBPTT(16, 32)",
        "TBPTT(32, 8)",
    }
    T, block = bench.truncation_block(table)
    tbptt = block[block["method"] == "tbptt"]
    assert (
        T == 1024 and len(tbptt.drop_duplicates(["k1", "k2"])) == 9 and len(tbptt) == 9 + 9 + 8
    )  # jax lacks (4, 64); torch (64, 64) is oom
    assert set(block.loc[block["method"] == "bptt", "impl"]) == {"numpy", "torch", "jax"}


def _checkpointed_table() -> pd.DataFrame:
    rows = []
    for impl in ("numpy", "torch"):
        for T, c in ((64, 8), (1024, 32), (4096, 64)):
            rows.append(_bench_row(impl, "bptt", T, time=1.0, rss=1000.0, native=800.0, model=400.0, grid="scaling"))
            rows.append(_bench_row(impl, "checkpointed", T, segment=c, time=1.25, rss=100.0, native=200.0,
                                   model=20.0, grid="checkpointed" + (",spacing" if T == 4096 else "")))
        rows.append(_bench_row(impl, "checkpointed", 4096, segment=16, grid="spacing"))
        rows.append(_bench_row(impl, "checkpointed", 512, segment=23, grid="checkpointed"))  # T not in scaling
    rows[0] |= dict(status="oom")  # numpy BPTT at T=64
    return pd.DataFrame(rows).assign(segment=lambda t: t["segment"].astype(float))


def test_scaling_block_draws_checkpointed_at_sqrt_T_as_one_setting():
    block = bench.scaling_block(_checkpointed_table())
    assert settings.table_order(block) == ["BPTT", settings.SQRT_SEGMENT]
    sqrt = block[block["setting"] == settings.SQRT_SEGMENT]
    assert sorted(set(zip(sqrt["T"], sqrt["segment"]))) == [(64, 8), (1024, 32), (4096, 64)]
    old = bench.scaling_block(_checkpointed_table().drop(columns="grid"))  # tables without `grid`
    assert set(old.loc[old["method"] == "checkpointed", "T"]) == {64, 512, 1024, 4096}
    renamed = _checkpointed_table().assign(grid=lambda t: "gpu_" + t["grid"])  # no grid named `scaling`
    assert set(bench.scaling_block(renamed).loc[lambda b: b["method"] == "checkpointed", "T"]) == {64, 512, 1024, 4096}


def test_checkpoint_costs_are_exact_at_the_issue_T_or_every_T_measured():
    gated = [_bench_row(impl, "bptt", 1024, cell=cell, time=4.0, rss=3000.0, grid="cells")
             for impl in ("numpy", "torch") for cell in ("lstm", "gru")]  # the gated cells' BPTT at the same T
    table = pd.concat([_checkpointed_table().assign(cell="rnn_tanh"), pd.DataFrame(gated)], ignore_index=True)
    costs = bench.checkpoint_costs(bench.scaling_block(table))
    assert list(zip(costs["T"], costs["impl"])) == [(1024, "numpy"), (1024, "torch"), (4096, "numpy"), (4096, "torch")]
    assert np.allclose(costs["memory_saved"], 0.9) and np.allclose(costs["native_saved"], 0.75)
    assert np.allclose(costs["model_saved"], 0.95) and np.allclose(costs["time_added"], 0.25)
    small = bench.checkpoint_costs(bench.scaling_block(_checkpointed_table()), Ts=(1000,))
    assert list(zip(small["T"], small["impl"])) == [(64, "torch"), (1024, "numpy"), (1024, "torch"),
                                                   (4096, "numpy"), (4096, "torch")]  # numpy BPTT at 64 is oom
    entry = bench_figures._checkpointing(bench.scaling_block(_checkpointed_table()))["checkpointing"]
    assert entry["table"]["rows"][0][3:] == ["90%", "75%", "95%", "+25%"] and "Gruslys" in entry["says"]
    assert "Figure: time_vs_T.png, memory_vs_T.png" in findings_page({"checkpointing": entry})


def test_growth_spread_and_ranges_are_exact():
    rows = bench.cells(
        pd.DataFrame(
            [
                _bench_row("numpy", "bptt", 8, rss=100, native=10, model=4),
                _bench_row("numpy", "bptt", 32, rss=400, native=50, model=16),
                _bench_row("numpy", "bptt", 64, status="oom", rss=NAN, native=NAN, model=32),
                _bench_row("numpy", "tbptt", 8, 4, 4, rss=30, time=2.0),
                _bench_row("numpy", "tbptt", 32, 4, 4, rss=36, time=0.5),
                _bench_row("numpy", "tbptt", 32, 8, 4, rss=33, time=0.25),
            ]
        )
    )
    growth = bench.memory_growth(rows).set_index("measure")
    assert growth.loc[bench.SHARED_MEMORY, "ratio"] == 4.0 and growth.loc[bench.NATIVE_MEMORY, "ratio"] == 5.0
    assert growth.loc[bench.MODEL_MEMORY, ["T_low", "T_high", "ratio"]].tolist() == [
        8,
        32,
        4.0,
    ]  # ok cells only
    spread = bench.flat_spread(rows, bench.SHARED_MEMORY).set_index("setting")["spread"]
    assert spread["TBPTT(4, 4)"] == pytest.approx(0.2, abs=1e-15) and spread["TBPTT(8, 4)"] == 0.0
    at_T = rows[rows["T"] == 32]
    ranges = bench.truncation_ranges(at_T).iloc[0]
    assert (ranges["n_ok"], ranges["time_low_s"], ranges["time_high_s"], ranges["fastest"]) == (
        2,
        0.25,
        0.5,
        "TBPTT(8, 4)",
    )
    assert bench.status_counts(rows) == {"oom": 1}
    assert bench.not_ok(rows)[["impl", "setting", "T", "status"]].values.tolist() == [
        ["numpy", "BPTT", 64, "oom"]
    ]
    times = bench.times_at_largest_T(rows)  # T=32: the largest T with an ok cell
    assert times.index.tolist() == ["BPTT", "TBPTT(4, 4)", "TBPTT(8, 4)"] and times["numpy"].tolist() == [
        1.0,
        0.5,
        0.25,
    ]


def test_best_peak_fraction_and_cpu_flags():
    rows = bench.cells(
        pd.DataFrame(
            [
                _bench_row("jax", "bptt", 8, peak_fraction=0.3, cpu_s=1.0),
                _bench_row(
                    "jax", "bptt", 16, peak_fraction=0.6, cpu_s=1.2
                ),  # CPU/wall 1.2 > 1.15 on 1 thread
                _bench_row("numpy", "bptt", 8, peak_fraction=0.7, cpu_s=1.15),
            ]
        )
    )
    best = bench.best_peak_fraction(rows).set_index("impl")
    assert best.loc["jax", ["T", "peak_fraction", "own_gemm_fraction"]].tolist() == [16, 0.6, 0.8]
    assert bench.cpu_flagged(rows)[["impl", "T"]].values.tolist() == [["jax", 16]]
    assert bench.cpu_flagged(rows.drop(columns="cpu_s")).empty
    flagged_by_row = rows.assign(cpu_over_threads=[False, False, True])  # the table's own flag wins
    assert bench.cpu_flagged(flagged_by_row)[["impl", "T"]].values.tolist() == [["numpy", 8]]


# -- learning tables ---------------------------------------------------------------------------


def _run(method, k1, k2, seed, lag, accuracy, loss=1.0, status="ok", task="delayed_recall", wall_s=2.0, T=8):
    row = dict.fromkeys(TRAINING_COLUMNS, NAN) | dict(
        impl="numpy",
        task=task,
        method=method,
        k1=k1,
        k2=k2,
        seed=seed,
        update=10,
        sequences_seen=10,
        wall_s=wall_s,
        loss=loss,
        accuracy=accuracy,
        lag=lag,
        T=T,
        B=2,
        H=4,
        D=3,
        O=3,
        dtype="float32",
        lr=0.1,
        status=status,
        baseline_loss=1.1,
        chance_accuracy=1 / 3,
    )
    first = row | dict(update=0, sequences_seen=0, wall_s=0.0, loss=1.1, accuracy=0.3, status="ok")
    return [first, row]


def _training() -> pd.DataFrame:
    rows = []
    for seed, (a2, a4) in enumerate(((1.0, 0.9), (0.9, 0.7), (0.8, 0.5))):
        rows += _run("bptt", NAN, NAN, seed, 2, a2) + _run("bptt", NAN, NAN, seed, 4, a4)
        rows += _run("tbptt", 2, 2, seed, 2, 0.95) + _run("tbptt", 2, 2, seed, 4, 0.4)
    rows += _run("tbptt", 2, 4, 0, 2, 1.0) + _run("tbptt", 2, 4, 1, 2, NAN, loss=NAN, status="diverged")
    return pd.DataFrame(rows, columns=TRAINING_COLUMNS)


def _lag_table() -> pd.DataFrame:
    """_training()'s delayed-recall runs as a learnable-lag table (gradient regime, one chosen lr), plus the
    readout-only control."""
    from bptt_bench.tables import LEARNABLE_LAG_COLUMNS

    runs = _training()
    rows = [
        dict.fromkeys(LEARNABLE_LAG_COLUMNS, NAN)
        | {k: r[k] for k in ("method", "k1", "k2", "lag", "seed", "lr", "sequences_seen", "update", "wall_s",
                             "status", "T", "B", "H", "dtype", "chance_accuracy", "baseline_loss")}
        | dict(regime="gradient", lr_chosen=True, val_accuracy=r["accuracy"], test_accuracy=r["accuracy"],
               val_loss=r["loss"], test_loss=r["loss"], V=3, n_eval=8)
        for r in runs.to_dict("records")
    ]
    rows += [
        dict(rows[0]) | dict(method="readout_only", k1=2, k2=NAN, lag=lag, seed=seed, test_accuracy=0.5,
                             val_accuracy=0.5, status="ok")
        for lag in (2, 4) for seed in range(3)
    ]
    return pd.DataFrame(rows, columns=LEARNABLE_LAG_COLUMNS)


def test_lag_accuracy_and_largest_learned_lag_are_exact():
    table = learning.lag_accuracy(_training()).set_index(["setting", "lag"])
    assert table.loc[("BPTT", 2), ["mean", "low", "high", "runs"]].tolist() == pytest.approx(
        [0.9, 0.8, 1.0, 3]
    )
    assert table.loc[("BPTT", 4), "mean"] == pytest.approx(0.7)
    assert table.loc[("TBPTT(2, 4)", 2), ["mean", "diverged"]].tolist() == [0.5, 1]  # a diverged run counts 0
    assert list(dict.fromkeys(table.index.get_level_values("setting"))) == [
        "BPTT",
        "TBPTT(2, 2)",
        "TBPTT(2, 4)",
    ]
    assert learning.largest_learned_lag(_training()) == {"BPTT": 2, "TBPTT(2, 2)": 2, "TBPTT(2, 4)": None}


def test_final_losses_and_pareto_points():
    training = pd.DataFrame(
        _run("bptt", NAN, NAN, 0, 3, 0.5, loss=0.2, task="copy_memory", wall_s=4.0)
        + _run("bptt", NAN, NAN, 1, 3, 0.5, loss=0.4, task="copy_memory", wall_s=2.0)
        + _run("tbptt", 4, 4, 0, 3, 0.5, loss=0.6, task="copy_memory"),
        columns=TRAINING_COLUMNS,
    )
    final = learning.final_losses(training).set_index("setting")
    assert final.loc["BPTT", ["mean", "low", "high", "runs", "training_s"]].tolist() == pytest.approx(
        [0.3, 0.2, 0.4, 2, 3.0]
    )
    benchmarks = pd.DataFrame(
        [_bench_row("numpy", "bptt", 8, time=0.01, rss=2.0**20, native=5.0) | dict(B=2, H=4, D=3, O=3)]
    )
    points, missing = learning.pareto_points(training, benchmarks)
    assert points["setting"].tolist() == ["BPTT"]
    assert points[["loss", "time_s", "framework_peak_bytes"]].values.tolist() == [
        pytest.approx([0.3, 0.01, 5.0])
    ]
    assert missing == ["copy_memory TBPTT(4, 4)"]


def test_pareto_front_is_exact():
    cost = np.array([1.0, 2.0, 3.0, 2.0, 4.0])
    loss = np.array([5.0, 3.0, 4.0, 3.5, 1.0])
    assert learning.front(cost, loss).tolist() == [0, 1, 4]


def test_gradient_bias_and_decay_numbers_are_exact():
    bias = pd.DataFrame(
        [
            dict(
                impl=impl,
                state="initial",
                k1=1,
                k2=2,
                batch=b,
                cosine=0.5 + 0.1 * b + d,
                relative_error=0.2 * b,
            )
            for impl, d in (("numpy", 0.0), ("jax", 1e-3))
            for b in (0, 1)
        ]
    )
    table = learning.bias_by_k2(bias).iloc[0]
    assert table[["cosine_low", "cosine_high", "relative_error"]].tolist() == pytest.approx([0.5, 0.601, 0.1])
    assert learning.framework_spread(bias) == pytest.approx({"cosine": 1e-3, "relative_error": 0.0})
    decay = pd.DataFrame(
        [
            dict(radius=r, seed=s, k=k, grad_norm=f**k)
            for r, f in ((0.5, 0.5), (2.0, 3.0))
            for s in (0, 1)
            for k in range(5)
        ]
    )
    assert learning.decay_per_step(decay) == pytest.approx({0.5: 0.5, 2.0: 3.0})
    span = learning.decay_span(decay).set_index("radius")
    assert span.loc[2.0, ["k_max", "norm_k0", "norm_k_max", "ratio"]].tolist() == pytest.approx(
        [4, 1.0, 81.0, 81.0]
    )


# -- one look per setting, across the study's figures -----------------------------------------


def _drawn_colours(fig) -> dict[str, set]:
    """setting -> hex colours of every artist a figure tagged with it (lines, markers, bands)."""
    colours: dict[str, set] = {}
    for artist in fig.findobj(lambda a: a.get_gid() is not None):
        if hasattr(artist, "get_color") and not hasattr(artist, "get_facecolor"):
            found = [artist.get_color()]
        elif hasattr(artist, "get_edgecolor"):
            found = [c for c in list(artist.get_edgecolor()) + list(artist.get_facecolor()) if c[3] > 0]
            found = [tuple(c[:3]) + (1.0,) for c in found]
        else:
            continue
        colours.setdefault(artist.get_gid(), set()).update(to_hex(c) for c in found)
    return colours


def _learning_tables():
    training = _training()
    curves = pd.concat(
        [
            pd.DataFrame(_run(m, k, k, s, 3, 0.5, loss=0.3 + 0.1 * s, task=task, T=8))
            for task in ("copy_memory", "digits")
            for m, k in (("bptt", NAN), ("tbptt", 2), ("tbptt", 4))
            for s in (0, 1)
        ],
        ignore_index=True,
    )
    benchmarks = pd.DataFrame(
        [
            _bench_row("numpy", m, 8, k, k, time=0.01 * (i + 1)) | dict(B=2, H=4, D=3, O=3)
            for i, (m, k) in enumerate((("bptt", NAN), ("tbptt", 2), ("tbptt", 4)))
        ]
    )
    return training, curves, benchmarks


def test_two_figures_never_give_one_setting_different_colours():
    table = synthetic_table(grid=True)
    training, curves, benchmarks = _learning_tables()
    all_settings = settings.table_order(table) + settings.table_order(training) + settings.table_order(curves)
    look = SettingStyle(
        settings.ordered(
            [
                dict(zip(("method", "k1", "k2"), (m, a, b)))
                for m, a, b in [("bptt", None, None)]
                + [("tbptt", *map(int, s[6:-1].split(", "))) for s in all_settings if s != "BPTT"]
            ]
        )
    )
    figures = {
        "time_vs_T": bench_figures.draw_time_vs_T(table, look),
        "memory_vs_T": bench_figures.draw_memory_vs_T(table, look),
        "peak_fraction": bench_figures.draw_peak_fraction(table, look),
        "learnable_lag": learning_figures.draw_learnable_lag(_lag_table(), look),
        "loss_curves": learning_figures.draw_loss_curves(curves, ("copy_memory", "digits"), look),
        "pareto": learning_figures.draw_pareto(curves, benchmarks, look),
    }
    seen: dict[str, dict[str, set]] = {}
    for name, fig in figures.items():
        drawn = _drawn_colours(fig)
        assert drawn, f"{name} tags no artist with its setting"
        for setting, colours in drawn.items():
            seen.setdefault(setting, {})[name] = colours
    for setting, by_figure in seen.items():
        assert len(set().union(*by_figure.values())) == 1, (setting, by_figure)
        assert set().union(*by_figure.values()) == {to_hex(look.colour(setting))}
    shared = [s for s, by_figure in seen.items() if len(by_figure) > 1]
    assert (
        "BPTT" in shared and "TBPTT(2, 2)" in shared
    )  # the check compares figures, not one figure with itself


def test_legend_names_every_setting_and_reference_line():
    training, curves, benchmarks = _learning_tables()
    fig = learning_figures.draw_pareto(curves, benchmarks)
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert len(fig.legends) == 1
    assert {"BPTT", "TBPTT(2, 2)", "TBPTT(4, 4)"} <= set(labels)
    assert any(label.startswith("Pareto front") for label in labels)
    assert any(label.startswith("memoryless baseline") for label in labels)


# -- findings ----------------------------------------------------------------------------------


def test_findings_page_shows_each_summary_as_a_table():
    summaries = bench_figures.summarize(synthetic_table(grid=True))
    summaries |= {"learnable_lag": learning_figures.summarize_learnable_lag(_lag_table())}
    page = findings_page(summaries)
    assert page.count("<table>") == len(summaries) and "<style>" in page
    assert "numpy BPTT at T=4096: timeout" in page and "TBPTT(2, 4)" in page
    lag = summaries["learnable_lag"]["table"]
    # cell, regime, setting, reach, largest learned lag: BPTT's mean 0.9 at L=2 with a low end above chance
    assert lag["rows"][0][:5] == ["rnn_tanh", "gradient", "BPTT", "7", "2"] and lag["rows"][2][:5] == [
        "rnn_tanh", "gradient", "TBPTT(2, 4)", "3", "none"]
    assert lag["rows"][3][:5] == ["rnn_tanh", "gradient", "readout only", "0", "none"]


def test_learnable_lag_figure_and_summary_show_each_cell():
    """A panel per cell, in the contract's order, one colour per setting in every panel; the
    summary's rows per cell, each cell's largest learned lag its own (the GRU copy learns nothing)."""
    elman = _lag_table().assign(cell="rnn_tanh")
    gru = elman.assign(cell="gru", test_accuracy=0.3, val_accuracy=0.3)
    table = pd.concat([gru, elman], ignore_index=True)
    fig = learning_figures.draw_learnable_lag(table)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split(":")[0] for ax in axes] == ["rnn_tanh", "gru"]
    assert "not run" not in fig.get_suptitle()
    colours = {}
    for ax in axes:
        for line in ax.get_lines():
            colours.setdefault(line.get_gid(), set()).add(line.get_color())
    assert all(len(c) == 1 for gid, c in colours.items() if gid)
    rows = learning_figures.summarize_learnable_lag(table)["table"]["rows"]
    largest = {(r[0], r[2]): r[4] for r in rows}
    assert largest["rnn_tanh", "BPTT"] == "2" and largest["gru", "BPTT"] == "none"
    assert [r[0] for r in rows] == ["rnn_tanh"] * 4 + ["gru"] * 4


def test_a_cell_left_out_of_a_regime_has_no_panel_and_the_title_says_so():
    """learning.learnable_lag.per_cell can run a cell in fewer regimes: a row per regime, a column per
    cell, the pair not run left out (no empty panel), named in the title; each column's lowest panel has
    the x axis."""
    elman = _lag_table().assign(cell="rnn_tanh")
    table = pd.concat([elman, elman.assign(regime="online_equal_data"), elman.assign(cell="lstm", seed=elman["seed"] + 10)],
                      ignore_index=True)
    fig = learning_figures.draw_learnable_lag(table)
    titles = [ax.get_title().split("\n")[0] for ax in fig.axes if ax.get_title()]
    gradient = "gradient mode: one update per sequence"
    assert titles == [f"rnn_tanh: {gradient}", f"lstm: {gradient}", "rnn_tanh: online, equal data:"]
    assert len(fig.axes) == 3 and not any(t.get_text() for ax in fig.axes for t in ax.texts)
    not_run = "\nnot run: lstm in online, equal data (learning.learnable_lag.per_cell)"
    assert fig.get_suptitle().endswith(not_run)
    x_label = {ax.get_title().split("\n")[0]: ax.get_xlabel() for ax in fig.axes}
    assert x_label[f"lstm: {gradient}"] and x_label["rnn_tanh: online, equal data:"]
    assert not x_label[f"rnn_tanh: {gradient}"]  # the panel below it has the axis


def test_readme_numbers_come_from_the_tables(tmp_path, capsys):
    from bptt_bench.analysis.__main__ import main

    (tmp_path / "tables").mkdir()
    synthetic_table().to_parquet(tmp_path / "tables/benchmarks.parquet")
    _training().to_csv(tmp_path / "tables/training.csv", index=False)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"benchmark": {"B": 8, "H": 64, "D": 16, "O": 10}}))
    main([str(tmp_path), "--configfile", str(config), "--T", "1024"])
    out = capsys.readouterr().out
    times = bench.cell_summary(bench.scaling_block(synthetic_table()), "BPTT", 1024).set_index("impl")
    assert f"numpy {times.loc['numpy', 'time_median_s']:.3g} s" in out
    assert "**Learnable lag** (mean final accuracy ≥ 0.9): BPTT 2, TBPTT(2, 2) 2, TBPTT(2, 4) none." in out
    elman = _lag_table().assign(cell="rnn_tanh")
    pd.concat([elman, elman.assign(cell="gru", test_accuracy=0.3, val_accuracy=0.3)]).to_csv(
        tmp_path / "tables/learnable_lag.csv", index=False)
    main([str(tmp_path), "--configfile", str(config), "--T", "1024"])
    out = capsys.readouterr().out
    assert "**Learnable lag, rnn_tanh, gradient**" in out and "**Learnable lag, gru, gradient**" in out
    assert out.split("**Learnable lag, gru, gradient**")[1].splitlines()[0].count("none") == 4  # BPTT, 2 TBPTT, control


def test_rate_choice_names_the_cells_that_ran_one_rate():
    elman = _lag_table().assign(cell="rnn_tanh")
    two_rates = pd.concat([elman, elman.assign(lr=elman["lr"] * 10, lr_chosen=False)], ignore_index=True)
    gated = pd.concat([elman.assign(cell=c, lr=0.1) for c in ("gru", "lstm")], ignore_index=True)
    assert learning_figures.rate_choice(two_rates) == "the learning rate chosen on validation"
    assert (learning_figures.rate_choice(pd.concat([two_rates, gated]))
            == "the learning rate chosen on validation (lstm, gru: their one rate, 0.1)")
    mixed = pd.concat([two_rates, gated.assign(lr=gated["cell"].map({"gru": 0.05, "lstm": 0.1}))])
    assert learning_figures.rate_choice(mixed).endswith("(lstm: its one rate, 0.1, gru: its one rate, 0.05)")
    assert learning_figures.rate_choice(gated) == "its one learning rate"
