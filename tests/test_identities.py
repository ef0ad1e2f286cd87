"""Identities the contract promises, checked in every framework (float64)."""

import numpy as np
import pytest

from conftest import max_gradient_error, relative_error, small_problem

T = 13


def tbptt(impl, problem, k1, k2, loss="ce"):
    return impl.loss_and_grad(*problem, method="tbptt", k1=k1, k2=k2, loss=loss)


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("k1", [1, 3, 5, T, 40])
def test_long_truncation_is_bptt(impls, k1, loss):
    """TBPTT(k1, k2 >= T) == BPTT for every k1."""
    problem = small_problem(loss)
    for name, impl in impls.items():
        value, grads = impl.loss_and_grad(*problem, method="bptt", loss=loss)
        for k2 in (T, T + 7):
            t_value, t_grads = tbptt(impl, problem, k1, k2, loss)
            assert relative_error(t_value, value) <= 1e-12, name
            error, worst = max_gradient_error(t_grads, grads)
            assert error <= 1e-12, f"{name} TBPTT({k1},{k2}): {worst} {error:.1e}"


def test_whole_sequence_segment_is_bptt(impls):
    """TBPTT(T, T) == BPTT."""
    problem = small_problem()
    for name, impl in impls.items():
        _, grads = impl.loss_and_grad(*problem)
        error, worst = max_gradient_error(tbptt(impl, problem, T, T)[1], grads)
        assert error <= 1e-12, f"{name}: {worst} {error:.1e}"


@pytest.mark.parametrize("k1,k2", [(4, 4), (5, 2), (3, 7), (1, 1)])
def test_segment_losses_sum_to_loss(impls, k1, k2):
    """Each L_j is the loss of its segment; they sum to L."""
    params, x, y, mask = small_problem()
    for name, impl in impls.items():
        total, _ = impl.loss_and_grad(params, x, y, mask)
        losses, _ = impl.train_tbptt(params, x, y, mask, k1=k1, k2=k2, lr=0.0)
        assert len(losses) == -(-T // k1)
        assert relative_error(sum(losses), total) <= 1e-12, name
        for j, segment_loss in enumerate(losses):  # L_j is the BPTT loss with the mask cut to segment j
            segment_mask = np.zeros_like(mask)
            segment_mask[j * k1 : (j + 1) * k1] = mask[j * k1 : (j + 1) * k1]
            expected, _ = impl.loss_and_grad(params, x, y, segment_mask)
            assert abs(segment_loss - expected) <= 1e-12 * max(1.0, abs(expected)), (name, j)


@pytest.mark.parametrize("k1,k2", [(4, 4), (5, 2), (3, 7)])
def test_training_with_zero_step_is_gradient_mode(impls, k1, k2):
    """lr = 0 leaves the parameters untouched, and each g_j is gradient mode's: a single segment
    trained with lr > 0 moves the parameters by exactly -lr * g_1."""
    params, x, y, mask = small_problem()
    for name, impl in impls.items():
        losses, unchanged = impl.train_tbptt(params, x, y, mask, k1=k1, k2=k2, lr=0.0)
        assert all(np.array_equal(unchanged[k], params[k]) for k in params), name
        _, g_1 = tbptt(impl, (params, x[:k1], y[:k1], mask[:k1]), k1, k2)
        _, stepped = impl.train_tbptt(params, x[:k1], y[:k1], mask[:k1], k1=k1, k2=k2, lr=1.0)
        implied = {k: params[k] - stepped[k] for k in params}
        error, worst = max_gradient_error(implied, g_1)
        assert error <= 1e-12, f"{name}: {worst} {error:.1e}"
