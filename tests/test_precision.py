"""Results come back in the inputs' dtype; JAX's float64 is real and does not leak."""

import numpy as np
import pytest

from conftest import small_problem


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_result_dtype_follows_inputs(impls, dtype):
    params, x, y, mask = small_problem(dtype=dtype)
    for name, impl in impls.items():
        value, grads = impl.loss_and_grad(params, x, y, mask, method="tbptt", k1=4, k2=6)
        _, new_params = impl.train_tbptt(params, x, y, mask, k1=4, k2=6, lr=0.1)
        assert isinstance(value, float)
        assert {g.dtype for g in grads.values()} == {np.dtype(dtype)}, name
        assert {p.dtype for p in new_params.values()} == {np.dtype(dtype)}, name
        assert all(isinstance(g, np.ndarray) for g in grads.values()), name


def test_jax_float64_is_float64_and_scoped(impls):
    """float64 agrees with NumPy far below float32 rounding, and x64 is off again afterwards."""
    jax = pytest.importorskip("jax")
    params, x, y, mask = small_problem(dtype="float64")
    _, grads = impls["jax"].loss_and_grad(params, x, y, mask)
    _, reference = impls["numpy"].loss_and_grad(params, x, y, mask)
    assert max(np.abs(grads[k] - reference[k]).max() for k in grads) < 1e-12
    assert not jax.config.jax_enable_x64
    assert jax.numpy.asarray(1.0).dtype == np.float32


def test_jax_compiles_once_per_shape(impls):
    from implementations import jax_rnn

    params, x, y, mask = small_problem(dtype="float32", T=40)
    def run():  # k2 < k1 too: frozen chunks of one length, a shorter last one
        impls["jax"].train_tbptt(params, x, y, mask, k1=8, k2=16, lr=0.1)
        impls["jax"].train_tbptt(params, x, y, mask, k1=16, k2=4, lr=0.1, clip=1.0)

    run()
    programs = (jax_rnn.forward, jax_rnn.readout_grads, jax_rnn.window_grad)
    compiled = [program._cache_size() for program in programs]
    for _ in range(3):
        run()
        impls["jax"].loss_and_grad(params, x, y, mask, method="tbptt", k1=8, k2=16)
    assert [program._cache_size() for program in programs] == compiled
