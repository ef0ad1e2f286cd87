"""Every pair of frameworks computes the same loss and gradient, to rounding."""

import itertools

import numpy as np
import pytest

import implementations
from conftest import max_gradient_error, relative_error, small_problem

# (method, k1, k2) at T = 13: k1 = k2 with a short last segment, k2 < k1, k1 < k2, k1 = 1, k2 >= T.
SETTINGS = [("bptt", None, None), ("tbptt", 4, 4), ("tbptt", 5, 2), ("tbptt", 3, 7), ("tbptt", 1, 3), ("tbptt", 4, 50)]
PAIRS = list(itertools.combinations(implementations.NAMES, 2))


def setting_id(setting):
    method, k1, k2 = setting
    return method if k1 is None else f"{method}({k1},{k2})"


@pytest.fixture(scope="module")
def results(impls):
    """Lazily computed (loss, grads) per (impl, loss, dtype, T, setting)."""
    cache = {}

    def get(name, loss, dtype, T, setting):
        key = (name, loss, dtype, T, setting)
        if key not in cache:
            method, k1, k2 = setting
            problem = small_problem(loss, dtype, T=T, H=16 if dtype == "float32" else 6)
            cache[key] = impls[name].loss_and_grad(*problem, method=method, loss=loss, k1=k1, k2=k2)
        return cache[key]

    return get


@pytest.mark.parametrize("setting", SETTINGS, ids=setting_id)
@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("pair", PAIRS, ids="-".join)
def test_float64_agreement(results, pair, loss, setting):
    (loss_a, grads_a), (loss_b, grads_b) = (results(name, loss, "float64", 13, setting) for name in pair)
    assert relative_error(loss_a, loss_b) <= 1e-10
    error, worst = max_gradient_error(grads_a, grads_b)
    assert error <= 1e-10, f"{pair} {loss} {setting}: relative error {error:.2e} in {worst}"
    assert all(g.dtype == np.float64 for g in grads_a.values())


@pytest.mark.parametrize("T", [64, 256])
@pytest.mark.parametrize("setting", [("bptt", None, None), ("tbptt", 16, 32), ("tbptt", 32, 8)], ids=setting_id)
@pytest.mark.parametrize("pair", PAIRS, ids="-".join)
def test_float32_agreement(results, pair, setting, T):
    (loss_a, grads_a), (loss_b, grads_b) = (results(name, "ce", "float32", T, setting) for name in pair)
    error, worst = max_gradient_error(grads_a, grads_b)
    message = f"float32 {pair} {setting} T={T}: loss error {relative_error(loss_a, loss_b):.1e}, gradient error {error:.1e} ({worst})"
    print(message)
    assert all(g.dtype == np.float32 for g in grads_a.values())
    assert relative_error(loss_a, loss_b) <= 1e-4 and error <= 1e-4, message
