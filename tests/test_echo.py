"""The echo task: its three exact loss levels, checked in closed form and by sampling."""

import math

import numpy as np
import pytest

from bptt_bench import tasks
from bptt_bench.experiments.echo import echo, expected_level


def test_levels_are_the_published_values():
    levels = tasks.echo_levels()
    assert levels["none"] == pytest.approx(0.6616, abs=5e-5)
    assert levels["lag3"] == pytest.approx(0.5192, abs=5e-5)
    assert levels["both"] == pytest.approx(0.4545, abs=5e-5)  # 0.454454..., often quoted truncated as 0.4544
    # closed forms (docs/experiments.md)
    H = lambda p: -p * math.log(p) - (1 - p) * math.log(1 - p)  # noqa: E731
    assert levels["none"] == pytest.approx(H(0.625), rel=1e-12)
    assert levels["lag3"] == pytest.approx((H(0.875) + H(0.375)) / 2, rel=1e-12)
    assert levels["both"] == pytest.approx((0 + H(0.75) + H(0.5) + H(0.25)) / 4, rel=1e-12)


def test_sampled_data_reach_the_levels_with_the_true_probabilities():
    """Cross-entropy of the ideal predictors on 1.6 million sampled targets, within 4 standard errors."""
    x, y, mask = tasks.make("echo", 2000, 0, "float64", T=808)
    bits, y = x[..., 1].astype(int)[8:], y[8:]
    x3, x8 = x[5:-3, :, 1], x[:-8, :, 1]
    predictors = {
        "none": np.full(y.shape, 0.625),
        "lag3": 0.5 + 0.5 * x3 - 0.125,
        "both": 0.5 + 0.5 * x3 - 0.25 * x8,
    }
    assert mask[:8].sum() == 0 and mask[8:].all() and bits.shape == y.shape
    for name, p in predictors.items():
        with np.errstate(divide="ignore"):
            loss = -np.where(y == 1, np.log(p), np.log(1 - p))
        loss = np.where(np.isfinite(loss), loss, 0.0)  # p = 1 never draws y = 0
        assert (loss[(p == 1) & (y == 0)] == 0).all()
        standard_error = loss.std() / math.sqrt(loss.size)
        assert abs(loss.mean() - tasks.echo_levels()[name]) < 4 * standard_error, name


def test_a_wrong_level_would_be_caught_by_sampling():
    x, y, _ = tasks.make("echo", 2000, 1, "float64", T=208)
    y = y[8:]
    loss = -np.where(y == 1, np.log(0.625), np.log(0.375))
    standard_error = loss.std() / math.sqrt(loss.size)
    assert abs(loss.mean() - tasks.echo_levels()["lag3"]) > 10 * standard_error


def test_expected_level_follows_the_gradient_path():
    assert [expected_level(k) for k in (1, 3, 4, 8, 9, 16)] == ["none", "none", "lag3", "lag3", "both", "both"]


def test_task_checks_its_length():
    with pytest.raises(ValueError, match="T"):
        tasks.info("echo", T=8)


def test_echo_experiment_rows_are_training_rows():
    from bptt_bench.tables import TRAINING_COLUMNS

    rows = echo(ks=(3,), seeds=(0,), T=16, H=4, B=4, n_sequences=4, eval_every=2, n_eval=8)
    assert set(rows[0]) == set(TRAINING_COLUMNS)
    assert {row["task"] for row in rows} == {"echo"} and rows[-1]["sequences_seen"] == 4


def test_echo_trains_each_run_as_train_tbptt_does():
    """float64: the batched seeds of every (H, k), clipped, follow training.train's NumPy runs
    (the contract's train_tbptt) to rounding at every evaluation point; one window shape (k = 2:
    a scan over identical windows) and a ragged one (k = 5 over T = 12: 5, 5, 2)."""
    from bptt_bench.experiments.training import train

    run = dict(seeds=(0, 1), T=12, B=4, n_sequences=4, lr=0.5, clip=0.3, eval_every=2, n_eval=8, dtype="float64")
    rows = echo(ks=(2, 5), H=[3, 5], **run)
    assert {row["impl"] for row in rows} == {"jax"} and len(rows) == 2 * 2 * 2 * 3
    for row in rows:
        reference = train(impl="numpy", task="echo", task_params={"T": 12}, method="tbptt", k1=row["k1"],
                          k2=row["k2"], seed=row["seed"], H=row["H"], **{k: run[k] for k in run if k not in ("seeds", "T")})
        at = next(r for r in reference if r["sequences_seen"] == row["sequences_seen"])
        assert at["update"] == row["update"] and at["accuracy"] == row["accuracy"]
        assert row["loss"] == pytest.approx(at["loss"], rel=1e-12, abs=0)
    assert len({row["loss"] for row in rows if row["sequences_seen"] == 4}) == 8  # the runs differ
