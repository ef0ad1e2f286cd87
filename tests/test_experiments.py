"""Learning experiments: cross-framework training, divergence, smoke runs of every experiment and figure."""

import math

import numpy as np
import pandas as pd
import pytest
from conftest import relative_error

import implementations
from bptt_bench import tables, tasks
from bptt_bench.experiments.gradient_bias import gradient_bias
from bptt_bench.experiments.gradient_decay import gradient_decay, state_gradient_norms, with_spectral_radius
from bptt_bench.experiments.learnable_lag import learnable_lag
from bptt_bench.experiments.loss_curves import loss_curves
from bptt_bench.experiments.training import evaluate, final_rows, online_sgd, train
from bptt_bench.figures import learning
from bptt_bench.problems import init_params

RECALL = dict(T=12, lag=2, V=3)


@pytest.mark.parametrize("setting", [("tbptt", 4, 6), ("tbptt", 5, 3), ("bptt", None, None)])
def test_float64_training_agrees_across_frameworks(setting):
    """Same seed, float64: the held-out losses after the first updates agree to 1e-8 in every framework."""
    method, k1, k2 = setting
    runs = {
        name: train(
            name,
            "delayed_recall",
            RECALL,
            method,
            k1,
            k2,
            seed=0,
            H=8,
            B=4,
            n_sequences=3,
            lr=0.2,
            eval_every=1,
            n_eval=8,
            dtype="float64",
        )
        for name in implementations.NAMES
    }
    reference = runs["numpy"]
    assert len(reference) == 4 and reference[-1]["loss"] < reference[0]["loss"]  # training moved the loss
    for name, rows in runs.items():
        assert [row["update"] for row in rows] == [row["update"] for row in reference]
        for row, expected in zip(rows, reference):
            assert relative_error(row["loss"], expected["loss"]) <= 1e-8, (name, row["update"])


def test_evaluate_is_the_contract_loss_per_target_step(impls):
    """evaluate() = loss_and_grad's L * B / (number of targets); for mse, twice that (no 1/2)."""
    for name, params in [("delayed_recall", RECALL), ("adding", dict(T=7))]:
        info = tasks.info(name, **params)
        theta = init_params(info.D, 5, info.O, "float64", seed=2)
        x, y, mask = tasks.make(name, 6, seed=0, dtype="float64", **params)
        loss, _ = impls["numpy"].loss_and_grad(theta, x, y, mask, loss=info.loss)
        per_step = loss * 6 / mask.sum() * (2 if info.loss == "mse" else 1)
        assert evaluate(theta, x, y, mask, info.loss)[0] == pytest.approx(per_step, rel=1e-12)


def test_rows_updates_and_determinism():
    T, k1 = RECALL["T"], 5
    tbptt = train(
        task_params=RECALL, method="tbptt", k1=k1, k2=5, H=6, B=3, n_sequences=4, eval_every=3, n_eval=4
    )
    bptt = train(task_params=RECALL, method="bptt", H=6, B=3, n_sequences=4, eval_every=3, n_eval=4, clip=0.5)
    assert [row["sequences_seen"] for row in tbptt] == [0, 3, 4]  # every eval_every, and the end
    assert [row["update"] for row in tbptt] == [0, 3 * math.ceil(T / k1), 4 * math.ceil(T / k1)]
    assert [row["update"] for row in bptt] == [0, 3, 4]
    assert all(row["k1"] is None and row["k2"] is None and row["clip"] == 0.5 for row in bptt)
    assert all(row["clip"] is None and row["status"] == "ok" for row in tbptt)
    again = train(
        task_params=RECALL, method="tbptt", k1=k1, k2=5, H=6, B=3, n_sequences=4, eval_every=3, n_eval=4
    )
    assert [row["loss"] for row in again] == [row["loss"] for row in tbptt]
    assert tbptt[0]["loss"] == bptt[0]["loss"]  # same seed: same initial parameters and held-out batch


def test_divergence_is_recorded_not_raised():
    rows = train(
        task="adding",
        task_params=dict(T=10),
        method="tbptt",
        k1=2,
        k2=2,
        lr=50.0,
        H=8,
        B=4,
        n_sequences=30,
        eval_every=1,
        n_eval=8,
    )
    *before, last = rows
    assert last["status"] == "diverged" and math.isnan(last["loss"])
    assert before and all(row["status"] == "ok" and np.isfinite(row["loss"]) for row in before)
    assert before[-1]["update"] < last["update"] <= before[-1]["update"] + 5  # the update that blew up
    assert last["sequences_seen"] < 30
    table = tables.rows_to_table(rows, tables.TRAINING_COLUMNS)
    assert final_rows(table)["status"].tolist() == ["diverged"]


class ScriptedTraining:
    """Stands in for an implementation: train_tbptt returns the next scripted (losses, parameters)."""

    def __init__(self, script):
        self.script = iter(script)

    def train_tbptt(self, params, x, y, mask, **_):
        return next(self.script)


@pytest.mark.parametrize(
    "bad_sequence,bad_losses,bad_params,update",
    [
        (2, [1.0, np.nan, np.inf], 0.0, 3 + 2),  # the second segment's loss is the first non-finite one
        (2, [1.0, 1.0, 1.0], np.inf, 3 + 3),  # finite losses, but the last update left Inf in the parameters
        (1, [np.nan, 1.0, 1.0], 0.0, 1),
    ],
)
def test_divergence_names_the_update(bad_sequence, bad_losses, bad_params, update):
    good = ([1.0, 1.0, 1.0], {"W": np.zeros(2)})
    script = [good] * (bad_sequence - 1) + [(bad_losses, {"W": np.full(2, bad_params)})] + [good]
    progress = list(
        online_sgd(
            ScriptedTraining(script), {"W": np.ones(2)}, [(None, None, None)] * 3, 1, 1, 0.1, None, "ce"
        )
    )
    assert [p.diverged for p in progress] == [False] * (bad_sequence - 1) + [True]
    assert progress[-1].updates == update and progress[-1].sequences_seen == bad_sequence
    assert np.isfinite(progress[-1].params["W"]).all()  # the last finite parameters are kept


def test_full_bptt_beats_chance_on_a_short_lag():
    rows = train(
        task_params=dict(T=16, lag=1, V=4),
        method="bptt",
        seed=0,
        H=16,
        B=16,
        n_sequences=150,
        lr=0.05,
        eval_every=150,
    )
    chance = tasks.info("delayed_recall", T=16, lag=1, V=4).chance_accuracy
    assert rows[-1]["accuracy"] > chance + 0.3 and rows[-1]["loss"] < rows[0]["loss"]


def test_gradient_bias_identity_bias_and_frameworks():
    kwargs = dict(
        task_params=dict(T=10, lag=3, V=3), truncations=[(2, 2), (3, 10)], n_batches=2, n_train=3, H=6, B=4
    )
    rows = {name: gradient_bias(name, **kwargs) for name in implementations.NAMES}
    table = tables.rows_to_table(rows["numpy"], tables.GRADIENT_BIAS_COLUMNS)
    identity, truncated = table[table["k2"].eq(10)], table[table["k2"].eq(2)]
    assert (identity["cosine"] > 1 - 1e-12).all() and (
        identity["relative_error"] < 1e-12
    ).all()  # k2 >= T is BPTT
    assert (truncated["cosine"] < 1 - 1e-6).all() and (truncated["relative_error"] > 1e-6).all()
    assert set(table["state"]) == {"init", "trained"} and set(table["sequences_seen"]) == {0, 3}
    for name in ("torch", "jax"):
        for row, expected in zip(rows[name], rows["numpy"]):
            assert row["cosine"] == pytest.approx(expected["cosine"], abs=1e-10)
            assert row["relative_error"] == pytest.approx(expected["relative_error"], rel=1e-8, abs=1e-12)


def test_state_gradient_norms_match_finite_differences():
    T, H = 5, 3
    params = with_spectral_radius(init_params(2, H, 2, "float64", seed=4), 1.3)
    assert np.abs(np.linalg.eigvals(params["W_hh"])).max() == pytest.approx(1.3)
    x, y, _ = tasks.make_delayed_recall(T, 1, 1, seed=0, V=2, dtype="float64")
    norms = state_gradient_norms(params, x, y)
    from implementations.numpy_rnn import forward_states

    def loss_from(k, state):  # loss at step T of a run restarted from h_{T-k}
        h = forward_states(params, state[None], x[T - k :])[-1] if k else state[None]
        logits = h @ params["W_hy"] + params["b_y"]
        return np.log(np.exp(logits).sum()) - logits[0, y[-1, 0]]

    S = forward_states(params, None, x)
    for k in range(T):
        eps, h = 1e-6, S[T - k, 0]
        grad = [(loss_from(k, h + eps * e) - loss_from(k, h - eps * e)) / (2 * eps) for e in np.eye(H)]
        assert norms[k] == pytest.approx(np.linalg.norm(grad), rel=1e-6)


def test_smoke_every_experiment_and_figure(tmp_path):
    """Tiny versions of experiments 1-4: tables with the schema's columns, every figure and caption."""
    training = tables.rows_to_table(
        learnable_lag(
            lags=(1, 3),
            settings=(("tbptt", 2, 2), ("bptt", None, None)),
            seeds=(0, 1),
            T=8,
            H=6,
            B=4,
            n_sequences=4,
            eval_every=2,
            n_eval=8,
        )
        + loss_curves(
            task_params={"blank": 2},
            settings=(("bptt", None, None), ("tbptt", 4, 4)),
            seeds=(0,),
            H=6,
            B=4,
            n_sequences=4,
            eval_every=2,
            n_eval=8,
        )
        + loss_curves(
            task="digits", settings=(("tbptt", 16, 16),), seeds=(0,), H=6, B=4, n_sequences=2, n_eval=8
        )
        + train(
            task="digits", method="tbptt", k1=32, k2=32, lr=1e38, H=6, B=4, n_sequences=3, n_eval=8
        ),  # diverges
        tables.TRAINING_COLUMNS,
    )
    bias = tables.rows_to_table(
        gradient_bias(
            task_params=dict(T=8, lag=2, V=3), truncations=[(2, 2), (2, 8)], n_batches=2, n_train=2, H=6, B=4
        ),
        tables.GRADIENT_BIAS_COLUMNS,
    )
    decay = tables.rows_to_table(
        gradient_decay(radii=(0.5, 2.0), T=6, H=6, B=4, seeds=(0, 1)), tables.GRADIENT_DECAY_COLUMNS
    )
    assert list(training.columns) == tables.TRAINING_COLUMNS and set(training["task"]) == {
        "delayed_recall",
        "copy_memory",
        "digits",
    }
    assert "diverged" in set(training["status"])
    assert len(decay) == 2 * 2 * 6 and len(bias) == 2 * 2 * 2

    # Tables go through CSV as the workflow writes them; a benchmark row matches copy memory's BPTT only.
    tables.write_table(training, tmp_path / "training.csv")
    training = pd.read_csv(tmp_path / "training.csv")
    benchmark = pd.DataFrame(
        [
            dict.fromkeys(tables.BENCHMARK_COLUMNS)
            | dict(
                impl="numpy",
                method="bptt",
                T=22,
                k1=None,
                k2=None,
                B=4,
                H=6,
                D=10,
                O=9,
                dtype="float32",
                status="ok",
                time_median_s=1e-3,
                framework_peak_bytes=2e4,
                peak_rss_bytes=1e6,
            )
        ]
    )
    points, missing = learning.pareto_points(training[training["task"].eq("copy_memory")], benchmark)
    assert points["setting"].tolist() == ["BPTT"] and missing == ["copy_memory TBPTT(4, 4)"]

    figures = [
        learning.plot_learnable_lag(training, tmp_path / "lag"),
        learning.plot_loss_curves(training, tmp_path / "curves"),
        learning.plot_pareto(training, benchmark, tmp_path / "pareto"),
        learning.plot_gradient_bias(bias, tmp_path / "bias"),
        learning.plot_gradient_decay(decay, tmp_path / "decay"),
    ]
    for paths in figures:
        assert [path.suffix for path in paths] == [".png", ".pdf"] and all(
            path.stat().st_size > 1000 for path in paths
        )
    captions = [
        learning.summarize_learnable_lag(training),
        learning.summarize_loss_curves(training),
        learning.summarize_pareto(training, benchmark),
        learning.summarize_gradient_bias(bias),
        learning.summarize_gradient_decay(decay),
    ]
    assert all(caption["says"].startswith("Claim tested:") and caption["table"]["rows"] for caption in captions)
    assert ["digits", "TBPTT(32, 32)"] in [row[:2] for row in captions[1]["table"]["rows"] if row[6] == "1 of 1"]
    assert set(learning.largest_learned_lag(training)) == {"TBPTT(2, 2)", "BPTT"}
    factors = learning.decay_per_step(decay)
    assert factors[0.5] < 1 < factors[2.0]
