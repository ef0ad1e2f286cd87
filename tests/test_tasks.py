"""Task generators: shapes, masks, the exact lag, determinism, baselines, and clear errors."""

import numpy as np
import pytest

from bptt_bench import tasks
from bptt_bench.problems import init_params
from implementations.contract import check_problem

# (task, params) small enough to draw in a blink; digits has no parameters.
CASES = [
    ("delayed_recall", dict(T=12, lag=3, V=5)),
    ("copy_memory", dict(blank=4)),
    ("adding", dict(T=9)),
    ("digits", {}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,params", CASES, ids=[case[0] for case in CASES])
def test_shapes_dtypes_and_the_contract(name, params, dtype):
    info = tasks.info(name, **params)
    x, y, mask = tasks.make(name, 6, seed=1, dtype=dtype, **params)
    assert x.shape == (info.T, 6, info.D) and x.dtype == dtype
    assert mask.shape == (info.T, 6) and mask.dtype == dtype and set(np.unique(mask)) <= {0, 1}
    assert y.shape == ((info.T, 6) if info.loss == "ce" else (info.T, 6, info.O))
    # The batch is a valid problem for the contract with the sizes info announces.
    check_problem(init_params(info.D, 3, info.O, dtype), x, y, mask, info.loss)


@pytest.mark.parametrize("name,params", CASES, ids=[case[0] for case in CASES])
def test_determinism_by_seed(name, params):
    first, again = tasks.make(name, 5, seed=3, **params), tasks.make(name, 5, seed=3, **params)
    other = tasks.make(name, 5, seed=4, **params)
    held_out = tasks.make(name, 5, seed=3, held_out=True, **params)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[0], held_out[0])
    from_generator = tasks.make(name, 5, seed=np.random.default_rng(3), **params)
    np.testing.assert_array_equal(first[0], from_generator[0])


def test_delayed_recall_lag_is_exact():
    T, lag, V = 20, 7, 4
    x, y, mask = tasks.make_delayed_recall(T, lag, 8, seed=0, V=V)
    symbols = x.argmax(axis=2)
    assert np.array_equal(x.sum(axis=2), np.ones((T, 8)))  # one-hot
    assert np.array_equal(mask[:lag], np.zeros((lag, 8))) and np.array_equal(
        mask[lag:], np.ones((T - lag, 8))
    )
    np.testing.assert_array_equal(y[lag:], symbols[:-lag])
    # Any other lag does not reproduce the targets.
    assert not np.array_equal(y[lag:], symbols[1 : T - lag + 1])


def test_copy_memory_layout_and_lag():
    blank = 6
    info = tasks.info("copy_memory", blank=blank)
    x, y, mask = tasks.make_copy_memory(blank, 8, seed=0)
    ids = x.argmax(axis=2)
    assert info.T == blank + 20 and info.lag == blank + 10 and (info.D, info.O) == (10, 9)
    assert ((ids[:10] >= 1) & (ids[:10] <= 8)).all()
    assert (
        (ids[10 : info.T - 11] == 0).all()
        and (ids[info.T - 11] == 9).all()
        and (ids[info.T - 10 :] == 0).all()
    )
    assert (y[: info.T - 10] == 0).all()
    np.testing.assert_array_equal(y[info.lag : info.lag + 10], ids[:10])  # recalled exactly `lag` steps later
    assert (mask == 1).all()
    # The memoryless predictor (blank certain, the 10 symbols uniform over 8) scores the baseline.
    assert info.baseline_loss == pytest.approx(10 * np.log(8) / info.T)


def test_adding_markers_target_and_baseline():
    T = 11
    x, y, mask = tasks.make_adding(T, 4000, seed=0, dtype="float64")
    markers = x[:, :, 1]
    assert (markers[: T // 2].sum(axis=0) == 1).all() and (markers[T // 2 :].sum(axis=0) == 1).all()
    np.testing.assert_allclose(y[-1, :, 0], (x[:, :, 0] * markers).sum(axis=0))
    assert (y[:-1] == 0).all() and (mask[:-1] == 0).all() and (mask[-1] == 1).all()
    # Predicting 1 gives the baseline squared error, measured on the data.
    assert np.mean((y[-1, :, 0] - 1) ** 2) == pytest.approx(tasks.info("adding", T=T).baseline_loss, rel=0.05)


def test_digits_split_pixels_and_target():
    split = tasks.digits_split()
    n_train, n_held_out = len(split["train"][1]), len(split["held_out"][1])
    assert n_train + n_held_out == 1797 and n_held_out == pytest.approx(0.25 * 1797, abs=1)
    x, y, mask = tasks.make_digits(7, seed=0, split="held_out")
    assert x.shape == (64, 7, 1) and 0 <= x.min() and x.max() <= 1
    assert (mask[:-1] == 0).all() and (mask[-1] == 1).all()
    # Each column is one held-out image read in raster order, labelled with its class.
    pixels, labels = split["held_out"]
    for b in range(7):
        matches = np.flatnonzero((np.abs(pixels - x[:, b, 0]) < 1e-6).all(axis=1))
        assert len(matches) and y[-1, b] in labels[matches]


@pytest.mark.parametrize(
    "call,field",
    [
        (lambda: tasks.make_delayed_recall(10, 10, 4), "lag"),
        (lambda: tasks.make_delayed_recall(10, 0, 4), "lag"),
        (lambda: tasks.make_delayed_recall(10.0, 2, 4), "T"),
        (lambda: tasks.make_delayed_recall(10, 2, 4, V=1), "V"),
        (lambda: tasks.make_delayed_recall(10, 2, 0), "B"),
        (lambda: tasks.make_copy_memory(0, 4), "blank"),
        (lambda: tasks.make_adding(1, 4), "T"),
        (lambda: tasks.make_adding(8, 4, dtype="int32"), "dtype"),
        (lambda: tasks.make_digits(4, split="test"), "split"),
        (lambda: tasks.make_digits(5000), "B"),
        (lambda: tasks.make("parity", 4), "task"),
    ],
)
def test_bad_parameters_name_the_field(call, field):
    """The message starts with the field's name ('lag must be ...', 'unknown split ...')."""
    with pytest.raises(ValueError, match=rf"^(unknown )?{field}\b"):
        call()
