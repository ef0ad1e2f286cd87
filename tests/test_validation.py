"""Bad input fails with a clear error naming the problem, before any framework work."""

import numpy as np
import pytest

import implementations
from conftest import small_problem


@pytest.fixture
def guarded(impls, monkeypatch):
    """The implementations, with every arithmetic primitive made to fail the test if validation lets work start."""

    def no_work(*args, **kwargs):
        raise AssertionError("framework work started before validation finished")

    for impl in impls.values():
        for primitive in ("states", "logits", "readout_grads", "window_grad"):
            monkeypatch.setattr(impl, primitive, no_work)
    return impls


def replaced(problem, **changes):
    params, x, y, mask = problem
    params = dict(params)
    for key in list(changes):
        if key in params:
            params[key] = changes.pop(key)
    return dict(params=params, x=x, y=y, mask=mask) | changes


def bad_calls():
    """(description, kwargs for loss_and_grad, expected words in the message)."""
    problem = small_problem()
    params, x, y, mask = problem
    nan_x = x.copy()
    nan_x[2, 1, 0] = np.nan
    inf_W = params["W_hh"].copy()
    inf_W[0, 0] = np.inf
    return [
        ("k1 < 1", replaced(problem, method="tbptt", k1=0, k2=4), "k1"),
        ("k2 < 1", replaced(problem, method="tbptt", k1=4, k2=-1), "k2"),
        ("k1 float", replaced(problem, method="tbptt", k1=4.0, k2=4), "k1 must be an integer"),
        ("k2 bool", replaced(problem, method="tbptt", k1=4, k2=True), "k2 must be an integer"),
        ("k2 missing", replaced(problem, method="tbptt", k1=4), "needs both k1 and k2"),
        ("k with bptt", replaced(problem, method="bptt", k1=4, k2=4), "tbptt"),
        ("unknown method", replaced(problem, method="rtrl"), "method"),
        ("unknown loss", replaced(problem, loss="hinge"), "loss"),
        ("W_hh shape", replaced(problem, W_hh=params["W_hh"][:, :-1]), "W_hh"),
        ("W_xh vs x", replaced(problem, W_xh=params["W_xh"][:-1]), "W_xh"),
        ("missing param", dict(params={k: v for k, v in params.items() if k != "b_y"}, x=x, y=y, mask=mask), "b_y"),
        ("param dtype", replaced(problem, b_h=params["b_h"].astype(np.float32)), "b_h"),
        ("x rank", replaced(problem, x=x[0]), "x must have shape"),
        ("y shape", replaced(problem, y=y[:-1]), "y must have shape"),
        ("y float for ce", replaced(problem, y=y.astype(np.float64)), "integer class ids"),
        ("class id too large", replaced(problem, y=np.full_like(y, 5)), "outside [0, O)"),
        ("class id negative", replaced(problem, y=np.full_like(y, -1)), "outside [0, O)"),
        ("mask shape", replaced(problem, mask=mask[:, :-1]), "mask must have shape"),
        ("mask values", replaced(problem, mask=mask * 2), "mask must hold only 0 and 1"),
        ("NaN in x", replaced(problem, x=nan_x), "x contains NaN or Inf"),
        ("Inf in params", replaced(problem, W_hh=inf_W), "W_hh"),
        ("mse target shape", replaced(problem, loss="mse"), "y must have shape (T, B, O)"),
    ]


@pytest.mark.parametrize("case", bad_calls(), ids=lambda case: case[0])
def test_bad_input_is_rejected_before_work(guarded, case):
    _, kwargs, words = case
    for impl in guarded.values():
        with pytest.raises(ValueError, match=None) as error:
            impl.loss_and_grad(**kwargs)
        assert words in str(error.value), str(error.value)


@pytest.mark.parametrize(
    "training, words",
    [(dict(lr=-0.1), "lr"), (dict(lr=float("nan")), "lr"), (dict(lr=0.1, clip=0.0), "clip"), (dict(lr=0.1, k1=0), "k1")],
)
def test_bad_training_arguments(guarded, training, words):
    params, x, y, mask = small_problem()
    arguments = dict(k1=4, k2=4) | training
    for impl in guarded.values():
        with pytest.raises(ValueError) as error:
            impl.train_tbptt(params, x, y, mask, **arguments)
        assert words in str(error.value)


def test_unknown_implementation_lists_known_ones():
    with pytest.raises(KeyError) as error:
        implementations.load("tensorflow")
    assert "tensorflow" in str(error.value) and all(name in str(error.value) for name in implementations.NAMES)


def test_contract_names():
    """The three reference frameworks come first (plotting order); every entry says what the study asks."""
    assert implementations.NAMES[:3] == ("numpy", "torch", "jax")
    for name, entry in implementations.REGISTRY.items():
        assert entry.package in implementations.PACKAGES and entry.native_memory, name
