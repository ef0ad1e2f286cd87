"""The `device` keyword: CPU everywhere, CUDA where an implementation supports it and a GPU exists.

Without a GPU the CUDA paths are checked for their errors only; with one, the GPU tests
check gradients against the CPU implementations (float64 <= 1e-10; float32 reported).
"""

import numpy as np
import pytest

import implementations
from tests.conftest import max_gradient_error, small_problem

CUDA_IMPLS = [name for name in implementations.NAMES if "cuda" in implementations.load(name).devices]


def cuda_available(name) -> bool:
    return implementations.load(name).device_available("cuda")


def call(impl, problem, **extra):
    return impl.loss_and_grad(*problem, **extra)


@pytest.mark.parametrize("name", implementations.NAMES)
def test_unknown_device_is_named(impls, name):
    with pytest.raises(ValueError, match="device"):
        call(impls[name], small_problem(), device="tpu")


@pytest.mark.parametrize("name", [n for n in implementations.NAMES if n not in CUDA_IMPLS])
def test_cpu_only_implementation_refuses_cuda(impls, name):
    with pytest.raises(ValueError, match=rf"device 'cuda' is not supported by implementation '{name}'"):
        call(impls[name], small_problem(), device="cuda")


@pytest.mark.parametrize("name", CUDA_IMPLS)
def test_cuda_without_a_gpu_is_an_error_before_any_work(impls, name, monkeypatch):
    impl = impls[name]
    if impl.device_available("cuda"):
        pytest.skip("a CUDA device is present: the error path cannot be reached")

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the device was checked")

    monkeypatch.setattr(impl, "to_native", no_work)
    with pytest.raises(ValueError, match=r"device 'cuda' was asked for, but .* sees no CUDA device"):
        call(impl, small_problem(), device="cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        impl.train(*small_problem(), "bptt", lr=0.1, device="cuda")


@pytest.mark.parametrize("name", implementations.NAMES)
def test_explicit_cpu_is_the_default(impls, name):
    problem = small_problem()
    loss, grads = call(impls[name], problem, method="tbptt", k1=3, k2=5)
    loss_cpu, grads_cpu = call(impls[name], problem, method="tbptt", k1=3, k2=5, device="cpu")
    assert loss == loss_cpu
    assert all(np.array_equal(grads[k], grads_cpu[k]) for k in grads)


# -- on a GPU -----------------------------------------------------------------------

METHODS = [dict(method="bptt"), dict(method="tbptt", k1=3, k2=5), dict(method="tbptt", k1=5, k2=2),
           dict(method="checkpointed", segment=4)]


@pytest.mark.gpu
@pytest.mark.parametrize("name", CUDA_IMPLS)
@pytest.mark.parametrize("method", METHODS, ids=lambda m: "-".join(map(str, m.values())))
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_cuda_agrees_with_numpy_on_cpu_float64(impls, name, method, loss):
    if not cuda_available(name):
        pytest.skip(f"no CUDA device visible to {name}")
    problem = small_problem(loss=loss)
    reference_loss, reference = call(impls["numpy"], problem, loss=loss, **method)
    value, grads = call(impls[name], problem, loss=loss, device="cuda", **method)
    error, key = max_gradient_error(grads, reference)
    print(f"{name} cuda float64 {method} {loss}: max relative gradient error {error:.2e} ({key})")
    assert error <= 1e-10, (error, key)
    assert abs(value - reference_loss) <= 1e-10 * abs(reference_loss)


@pytest.mark.gpu
@pytest.mark.parametrize("name", CUDA_IMPLS)
def test_cuda_float32_error_is_reported(impls, name):
    if not cuda_available(name):
        pytest.skip(f"no CUDA device visible to {name}")
    problem = small_problem(dtype="float32", T=256)
    _, reference = call(impls["numpy"], problem)
    _, grads = call(impls[name], problem, device="cuda")
    error, key = max_gradient_error(grads, reference)
    print(f"{name} cuda float32 T=256 bptt: max relative gradient error {error:.2e} ({key})")
    assert error <= 1e-4, (error, key)  # SPEC's float32 tolerance; the figure is printed


def test_float32_is_ieee_during_a_call_and_restored_after():
    """TF32 (cuDNN's RNNs, XLA's GPU default) would give ~1e-3 gradient error on a GPU: each call runs
    at IEEE float32, and the user's settings come back afterwards."""
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    cudnn_rnn = torch.backends.cudnn.rnn
    with implementations.load("torch").precision(np.float32):
        assert cudnn_rnn.fp32_precision == "ieee"
    assert cudnn_rnn.fp32_precision == "tf32"  # PyTorch's default, untouched outside a call
    with implementations.load("jax").precision(np.float32):
        assert jax.config.jax_default_matmul_precision == "highest"
    assert jax.config.jax_default_matmul_precision is None
