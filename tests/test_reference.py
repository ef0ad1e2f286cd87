"""The implementations against a naive transcription of the contract and against finite differences."""

import numpy as np
import pytest

from conftest import max_gradient_error, relative_error, small_problem
import reference

SETTINGS = [(4, 4), (5, 2), (3, 7), (1, 3), (4, 50), (13, 13)]


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("k1,k2", SETTINGS)
def test_gradient_mode_matches_reference(impls, k1, k2, loss):
    params, x, y, mask = small_problem(loss)
    ref_losses, ref_grads = reference.tbptt_gradient(params, x, y, mask, loss, k1, k2)
    value, grads = impls["numpy"].loss_and_grad(params, x, y, mask, method="tbptt", loss=loss, k1=k1, k2=k2)
    assert relative_error(value, sum(ref_losses)) <= 1e-12
    error, worst = max_gradient_error(grads, ref_grads)
    assert error <= 1e-10, f"{worst}: {error:.1e}"


@pytest.mark.parametrize("clip", [None, 0.5])
@pytest.mark.parametrize("k1,k2", SETTINGS)
def test_training_mode_matches_reference(impls, k1, k2, clip):
    params, x, y, mask = small_problem("ce")
    ref_losses, ref_params = reference.tbptt_train(params, x, y, mask, "ce", k1, k2, lr=0.3, clip=clip)
    for name, impl in impls.items():
        losses, new_params = impl.train_tbptt(params, x, y, mask, k1=k1, k2=k2, lr=0.3, clip=clip)
        np.testing.assert_allclose(losses, ref_losses, rtol=1e-10, err_msg=name)
        error, worst = max_gradient_error(new_params, ref_params)
        assert error <= 1e-9, f"{name}: {worst} differs by {error:.1e}"


def central_differences(f, theta, name, index, eps=1e-6):
    plus = {k: v.copy() for k, v in theta.items()}
    minus = {k: v.copy() for k, v in theta.items()}
    plus[name][index] += eps
    minus[name][index] -= eps
    return (f(plus) - f(minus)) / (2 * eps)


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("setting", [("bptt", 13, 13), ("tbptt", 4, 4), ("tbptt", 5, 2), ("tbptt", 3, 7)])
def test_finite_differences(impls, setting, loss):
    """Central differences, float64, on 3 random entries of every parameter."""
    method, k1, k2 = setting
    params, x, y, mask = small_problem(loss, seed=1)
    kwargs = dict(k1=k1, k2=k2) if method == "tbptt" else {}
    _, grads = impls["numpy"].loss_and_grad(params, x, y, mask, method=method, loss=loss, **kwargs)
    objective = reference.frozen_objective(params, x, y, mask, loss, k1, k2)
    rng = np.random.default_rng(7)
    for name, value in params.items():
        for _ in range(3):
            index = tuple(rng.integers(0, n) for n in value.shape)
            numeric = central_differences(objective, params, name, index)
            assert abs(numeric - grads[name][index]) <= 1e-6 * max(1.0, abs(numeric)), (name, index)
