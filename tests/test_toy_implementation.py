"""A new framework needs only the arithmetic primitives: a toy built here, from the naive
per-step reference (float64 NumPy loops), passes the agreement suite through the shared driver."""

import numpy as np
import pytest

import reference
from conftest import max_gradient_error, relative_error, small_problem
from implementations.base import Implementation
from test_agreement import SETTINGS, setting_id


class Toy(Implementation):
    """Per-step loops, every state kept; no schedule, chunking or carry logic of its own."""

    name = "toy"

    def to_native(self, params):
        return {key: value.copy() for key, value in params.items()}

    def to_numpy(self, params):
        return dict(params)

    def maximum(self, value, bound):
        return max(value, bound)

    def measure_peak_bytes(self, run, inputs=()):
        return run(), 0

    def _zero(self, params, x):
        return np.zeros((x.shape[1], params["W_hh"].shape[0]), x.dtype)

    def states(self, params, state, x, cell="rnn_tanh"):  # the Elman cell only
        hs = reference.forward(params, self._zero(params, x) if state is None else state, x)
        return np.stack(hs[1:]), hs[-1]

    def logits(self, params, outputs):
        return outputs @ params["W_hy"] + params["b_y"]

    def readout_grads(self, params, outputs, y, mask, loss):
        grads = {"W_hy": np.zeros_like(params["W_hy"]), "b_y": np.zeros_like(params["b_y"])}
        total = 0.0
        for h, y_t, m_t in zip(outputs, y, mask):
            value, d = reference.step_loss(params, h, y_t, m_t, loss)
            total += value
            grads["W_hy"] += h.T @ d
            grads["b_y"] += d.sum(0)
        return total, grads

    def window_grad(self, params, state, x, y, mask, loss, carry_at, segment, cell="rnn_tanh"):
        state = self._zero(params, x) if state is None else state
        value, grads = reference.segment_loss_and_grad(params, {0: state}, x, y, mask, loss, 0, len(x), 0)
        carried = None if carry_at is None else reference.forward(params, state, x[:carry_at])[-1]
        return value, grads, carried  # segment: keeping every state gives the same gradient


@pytest.mark.parametrize("setting", SETTINGS, ids=setting_id)
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_toy_agrees_with_numpy(impls, loss, setting):
    method, k1, k2 = setting
    problem = small_problem(loss)
    value, grads = Toy().loss_and_grad(*problem, method=method, loss=loss, k1=k1, k2=k2)
    expected_value, expected = impls["numpy"].loss_and_grad(*problem, method=method, loss=loss, k1=k1, k2=k2)
    assert relative_error(value, expected_value) <= 1e-10
    error, worst = max_gradient_error(grads, expected)
    assert error <= 1e-10, f"{loss} {setting}: {error:.1e} in {worst}"


@pytest.mark.parametrize("k1,k2", [(4, 4), (5, 2), (3, 7)])
def test_toy_training_agrees_with_numpy(impls, k1, k2):
    params, x, y, mask = small_problem()
    losses, new_params = Toy().train_tbptt(params, x, y, mask, k1=k1, k2=k2, lr=0.3, clip=0.5)
    expected_losses, expected = impls["numpy"].train_tbptt(params, x, y, mask, k1=k1, k2=k2, lr=0.3, clip=0.5)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-10)
    error, worst = max_gradient_error(new_params, expected)
    assert error <= 1e-10, f"{worst}: {error:.1e}"


def test_toy_forward_and_evaluate_agree_with_numpy(impls):
    params, x, y, mask = small_problem()
    for got, expected in zip(Toy().forward(params, x), impls["numpy"].forward(params, x)):
        assert relative_error(got, expected) <= 1e-12
    assert np.allclose(Toy().evaluate(params, x, y, mask), impls["numpy"].evaluate(params, x, y, mask), rtol=1e-12)
