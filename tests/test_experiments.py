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
from bptt_bench.analysis import learnable_lag as analysis
from bptt_bench.experiments import batched
from bptt_bench.experiments.learnable_lag import REGIMES, learnable_lag
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


def test_smoke_every_experiment_and_figure(tmp_path, lag_table):
    """Tiny versions of experiments 1-4: tables with the schema's columns, every figure and caption."""
    training = tables.rows_to_table(
        loss_curves(
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
    assert list(training.columns) == tables.TRAINING_COLUMNS and set(training["task"]) == {"copy_memory", "digits"}
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
                cell="rnn_tanh",
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
        learning.plot_learnable_lag(lag_table, tmp_path / "lag"),
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
        learning.summarize_learnable_lag(lag_table),
        learning.summarize_loss_curves(training),
        learning.summarize_pareto(training, benchmark),
        learning.summarize_gradient_bias(bias),
        learning.summarize_gradient_decay(decay),
    ]
    assert all(caption["says"].startswith("Claim tested:") and caption["table"]["rows"] for caption in captions)
    assert ["digits", "TBPTT(32, 32)"] in [row[:2] for row in captions[1]["table"]["rows"] if row[6] == "1 of 1"]
    assert set(learning.largest_learned_lag(lag_table)) == {
        f"{regime}: {setting}" for regime in REGIMES for setting in ("TBPTT(2, 2)", "BPTT", "readout only")
    }
    factors = learning.decay_per_step(decay)
    assert factors[0.5] < 1 < factors[2.0]


# -- learnable lag: batched trainer, regimes, criterion, learning-rate choice ---------------

LAG_RUN = dict(lags=(1,), settings=(("tbptt", 2, 2), ("bptt", None, None), ("readout_only", 2, None)),
               seeds=(0, 1), lrs=(0.1, 0.5), T=8, V=3, H=6, B=4, n_sequences=8, n_updates=8, eval_every=8, n_eval=8)


@pytest.fixture(scope="module")
def lag_table(tmp_path_factory):
    """A tiny learnable-lag run, through CSV as the workflow writes it."""
    path = tmp_path_factory.mktemp("lag") / "learnable_lag.csv"
    tables.write_table(tables.rows_to_table(learnable_lag(**LAG_RUN), tables.LEARNABLE_LAG_COLUMNS), path)
    return pd.read_csv(path)


def _recall_data(n, T=12, lag=3, V=3, B=4, dtype="float64"):
    """n delayed-recall batches from one stream, and their symbols (n, 1, T, B) for the batched trainer."""
    rng = np.random.default_rng([0, 1])
    batches = [tasks.make_delayed_recall(T, lag, B, rng, V, dtype) for _ in range(n)]
    return batches, np.stack([x.argmax(axis=-1) for x, _, _ in batches])[:, None]


def _batched(p0, lrs, symbols, lag, **kwargs):
    """Final parameters of len(lrs) replicas that start from p0 and read the same symbols (kwargs: train_replicas')."""
    R = len(lrs)
    params = {key: np.stack([value] * R) for key, value in p0.items()}
    points = list(batched.train_replicas(
        params, np.array(lrs), np.zeros(R, int), np.full(R, lag), symbols, {"test": symbols[0, 0][None]},
        V=p0["W_xh"].shape[0], keep_params=True, eval_every=2, **kwargs))
    assert points[-1].sequences_seen == len(symbols) and points[-1].alive.all()
    return points[-1].params


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
@pytest.mark.parametrize("k1,k2", [(4, 6), (5, 3), (None, None)])
@pytest.mark.parametrize("mode", ["online", "gradient"])
def test_one_replica_of_the_batched_trainer_is_the_contract(k1, k2, mode, cell):
    """float64: replica 1 of 3 (each its own lr) follows train_tbptt (online) or SGD on
    loss_and_grad's gradient (gradient mode), sequence after sequence, to 1e-12, for every cell
    (the NumPy implementation's hand-written backward as the reference)."""
    impl, lag, lrs = implementations.load("numpy"), 3, [0.05, 0.3, 1.0]
    batches, symbols = _recall_data(5, lag=lag)
    p = p0 = init_params(3, 6, 3, "float64", seed=1, cell=cell, forget_bias=1.0 if cell == "lstm" else 0.0)
    for x, y, mask in batches:
        if mode == "online":
            _, p = impl.train_tbptt(p, x, y, mask, k1=k1 or 12, k2=k2 or 12, lr=lrs[1], cell=cell)
        else:
            _, g = impl.loss_and_grad(p, x, y, mask, "tbptt" if k1 else "bptt", k1=k1, k2=k2, cell=cell)
            p = {key: p[key] - lrs[1] * g[key] for key in p}
    with np.errstate(all="ignore"):
        final = _batched(p0, lrs, symbols, lag, k1=k1, k2=k2, mode=mode, cell=cell)
    assert relative_error(p0["W_hh"], p["W_hh"]) > 1e-3  # training moved the parameters
    for key in p:
        assert relative_error(final[key][1], p[key]) <= 1e-12, key


@pytest.mark.parametrize("k1,k2", [(3, 12), (5, 40), (12, 12)])
def test_gradient_mode_with_k2_at_least_T_is_bptt(k1, k2):
    """TBPTT(k1, k2 >= T) in gradient mode gives BPTT's trajectory (float64, to rounding).

    Two sequences: SGD at lr 0.2 amplifies rounding (measured for (3, 12): 2.6e-16 after one
    sequence, 5e-16 after two, 1e-13 after four, 3e-12 after six)."""
    p0 = init_params(3, 6, 3, "float64", seed=2)
    _, symbols = _recall_data(2)
    bptt = _batched(p0, [0.2], symbols, 3, k1=None, k2=None, mode="gradient")
    tbptt = _batched(p0, [0.2], symbols, 3, k1=k1, k2=k2, mode="gradient")
    truncated = _batched(p0, [0.2], symbols, 3, k1=k1, k2=2, mode="gradient")
    for key in p0:  # sums of the same terms in another order: rounding only
        assert relative_error(tbptt[key][0], bptt[key][0]) <= 1e-14, key
    assert relative_error(truncated["W_hh"][0], bptt["W_hh"][0]) > 1e-6  # a short k2 does change it


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
@pytest.mark.parametrize("mode", ["online", "gradient"])
def test_readout_only_never_changes_the_recurrence(mode, cell):
    p0 = init_params(3, 6, 3, "float32", seed=3, cell=cell)
    _, symbols = _recall_data(4, dtype="float32")
    final = _batched(p0, [0.1, 1.0], symbols, 3, k1=4, k2=4, mode=mode, readout_only=True, cell=cell)
    for key in set(p0) - {"W_hy", "b_y"}:
        assert (final[key] == p0[key]).all(), key
    assert all(relative_error(final[key][1], p0[key]) > 1e-3 for key in ("W_hy", "b_y"))


def test_batched_divergence_keeps_the_last_finite_parameters():
    p0 = init_params(3, 6, 3, "float32", seed=0)  # float32: lr 1e38 overflows to Inf
    _, symbols = _recall_data(6, dtype="float32")
    R = 2
    params = {key: np.stack([value] * R) for key, value in p0.items()}
    with np.errstate(all="ignore"):
        points = list(batched.train_replicas(
            params, np.array([0.1, 1e38]), np.zeros(R, int), np.full(R, 3), symbols, {"test": symbols[0]},
            V=3, k1=4, k2=4, mode="online", eval_every=2))
    last = points[-1]
    assert last.alive.tolist() == [True, False] and last.updates[0] == 6 * 3
    assert 1 <= last.diverged_at[1] <= 3  # within the first sequence's three updates
    assert np.isfinite(last.scores["test"][0]).all()


def test_learnable_lag_table(lag_table):
    """Every regime and setting, one chosen lr per (regime, setting, lag), equal-updates budgets,
    and BPTT (one window per sequence) the same run in every regime."""
    table = lag_table
    assert list(table.columns) == tables.LEARNABLE_LAG_COLUMNS
    assert set(table["regime"]) == set(REGIMES) and set(table["method"]) == {"tbptt", "bptt", "readout_only"}
    final = analysis.final_runs(table)
    assert len(final) == 3 * 3 * 2 * 2  # regimes x settings x seeds x lrs
    chosen = final[final["lr_chosen"]].groupby(analysis.CHOICE, dropna=False)["lr"].nunique()
    assert (chosen == 1).all() and len(chosen) == 3 * 3
    seen = final.groupby(["regime", "method"])["sequences_seen"].first()
    assert seen["online_equal_updates", "tbptt"] == 2 and seen["online_equal_data", "tbptt"] == 8  # 8 updates
    updates = final.groupby(["regime", "method"])["update"].max()
    assert updates["gradient", "tbptt"] == 8 and updates["online_equal_data", "tbptt"] == 32
    scores = ["val_loss", "val_accuracy", "test_loss", "test_accuracy"]
    bptt = [final[final["method"].eq("bptt") & final["regime"].eq(regime)][scores].to_numpy() for regime in REGIMES]
    assert (bptt[0] == bptt[1]).all() and (bptt[0] == bptt[2]).all()
    assert (final["test_accuracy"] != final["val_accuracy"]).any()  # separate batches


def _final_table(records):
    """A hand-made final-row table: records of (regime, method, k1, k2, lag, seed, lr, val_acc, test_acc)."""
    rows = []
    for regime, method, k1, k2, lag, seed, lr, val, test in records:
        rows.append(dict(regime=regime, method=method, k1=k1, k2=k2, lag=lag, seed=seed, lr=lr,
                         sequences_seen=10, val_accuracy=val, val_loss=1 - (val if val == val else 0),
                         test_accuracy=test, status="ok" if val == val else "diverged", T=32,
                         chance_accuracy=0.25))
    return pd.DataFrame(rows)


def test_learned_criterion_on_hand_made_accuracies():
    assert analysis.learned([0.95, 0.92, 0.91, 0.97, 0.90], chance=0.25)
    assert not analysis.learned([0.89, 0.89, 0.89, 0.89, 0.89], chance=0.25)  # mean below 0.9
    assert not analysis.learned([1.0, 1.0, 1.0, 1.0, np.nan], chance=0.25)  # a diverged run counts 0: mean 0.8
    # mean 0.92 >= 0.9, but the interval's low end (0.76) is not above a chance of 0.8
    assert not analysis.learned([1.0, 1.0, 1.0, 1.0, 0.6], chance=0.8)
    assert analysis.learned([1.0, 1.0, 1.0, 1.0, 0.6], chance=0.25)
    low, high = analysis.bootstrap_interval([1.0, 1.0, 1.0, 1.0, 0.6])
    assert low == pytest.approx(0.76) and high == 1.0


def test_lr_choice_uses_validation_not_test():
    """lr 0.1 wins on validation (mean 0.9 vs 0.8) though 0.01 is better on test; a diverged run
    counts 0; equal validation accuracy goes to the lower validation loss, then the smaller lr."""
    table = _final_table([
        ("gradient", "tbptt", 4, 4, 2, 0, 0.01, 0.8, 1.0), ("gradient", "tbptt", 4, 4, 2, 1, 0.01, 0.8, 1.0),
        ("gradient", "tbptt", 4, 4, 2, 0, 0.1, 0.9, 0.5), ("gradient", "tbptt", 4, 4, 2, 1, 0.1, 0.9, 0.5),
        ("gradient", "tbptt", 4, 4, 2, 0, 1.0, 1.0, 1.0), ("gradient", "tbptt", 4, 4, 2, 1, 1.0, np.nan, np.nan),
        ("gradient", "bptt", None, None, 2, 0, 0.01, 0.5, 0.5), ("gradient", "bptt", None, None, 2, 0, 0.1, 0.5, 0.6),
    ])
    chosen = analysis.choose_lr(table)
    assert len(chosen) == 2
    assert dict(zip(chosen["method"], chosen["lr"])) == {"tbptt": 0.1, "bptt": 0.01}
    marked = pd.DataFrame(analysis.mark_chosen_lr(table.to_dict("records")))
    assert marked.loc[marked["lr_chosen"], "lr"].tolist() == [0.1, 0.1, 0.01]


def test_largest_learned_lag_reach_and_control():
    records = []
    for lag, accuracies in {2: [1.0] * 5, 4: [0.95] * 5, 8: [0.6] * 5}.items():
        records += [("gradient", "tbptt", 4, 4, lag, seed, 0.1, a, a) for seed, a in enumerate(accuracies)]
        records += [("gradient", "readout_only", 4, None, lag, seed, 0.1, 0.5, 0.5) for seed in range(5)]
    table = _final_table(records).assign(lr_chosen=True)
    summary = analysis.lag_summary(table)
    assert analysis.largest_learned_lag(summary) == {
        ("gradient", "tbptt", 4, 4): 4, ("gradient", "readout_only", 4, None): None
    }
    past = analysis.beyond_reach(summary)
    assert past[["lag", "accuracy", "control"]].values.tolist() == [[4, 0.95, 0.5], [8, 0.6, 0.5]]
    assert [analysis.reach(*s, T=32) for s in [("tbptt", 4, 8), ("bptt", None, None), ("readout_only", 4, None)]] \
        == [7, 31, 0]
