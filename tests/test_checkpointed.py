"""Checkpointed BPTT: BPTT's gradient to rounding, memory ~ T/c + c states, checked inputs."""

import numpy as np
import pytest

import implementations
from bptt_bench.costmodel import cost
from bptt_bench.problems import random_problem
from conftest import max_gradient_error, relative_error, small_problem

T = 13
SEGMENTS = [1, 4, T, 20, None]  # c = 1, c not dividing T, c = T, c > T, default ceil(sqrt(T)) = 4


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("segment", SEGMENTS)
def test_gradient_is_bptt(impls, loss, segment):
    """Every framework: checkpointed == its own BPTT (1e-12) and == NumPy's checkpointed (1e-10)."""
    problem = small_problem(loss)
    _, reference = impls["numpy"].loss_and_grad(*problem, method="checkpointed", segment=segment, loss=loss)
    for name, impl in impls.items():
        bptt_loss, bptt = impl.loss_and_grad(*problem, loss=loss)
        value, grads = impl.loss_and_grad(*problem, method="checkpointed", segment=segment, loss=loss)
        assert relative_error(value, bptt_loss) <= 1e-12, name
        error, worst = max_gradient_error(grads, bptt)
        assert error <= 1e-12, f"{name} c={segment}: {error:.1e} in {worst}"
        error, worst = max_gradient_error(grads, reference)
        assert error <= 1e-10, f"{name} vs numpy c={segment}: {error:.1e} in {worst}"


def test_training_is_one_bptt_update(impls):
    params, x, y, mask = small_problem()
    for name, impl in impls.items():
        losses, stepped = impl.train(params, x, y, mask, "checkpointed", lr=0.3, clip=0.5, segment=5)
        expected_losses, expected = impl.train(params, x, y, mask, "bptt", lr=0.3, clip=0.5)
        assert len(losses) == 1 and relative_error(losses[0], expected_losses[0]) <= 1e-12, name
        error, worst = max_gradient_error(stepped, expected)
        assert error <= 1e-12, f"{name}: {error:.1e} in {worst}"


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(method="checkpointed", segment=0), "segment must be an integer >= 1"),
        (dict(method="checkpointed", segment=-3), "segment must be an integer >= 1"),
        (dict(method="checkpointed", segment=2.0), "segment must be an integer"),
        (dict(method="checkpointed", segment=True), "segment must be an integer"),
        (dict(method="bptt", segment=4), "segment applies to method='checkpointed' only"),
        (dict(method="tbptt", k1=4, k2=4, segment=4), "segment applies to method='checkpointed' only"),
        (dict(method="checkpointed", k1=4, k2=4), "k1 and k2 apply to method='tbptt' only"),
    ],
)
def test_bad_segment_is_rejected_before_work(impls, monkeypatch, kwargs, words):
    def no_work(*args, **kw):
        raise AssertionError("framework work started before validation finished")

    problem = small_problem()
    for impl in impls.values():
        for primitive in ("states", "logits", "readout_grads", "window_grad"):
            monkeypatch.setattr(impl, primitive, no_work)
        with pytest.raises(ValueError) as error:
            impl.loss_and_grad(*problem, **kwargs)
        assert words in str(error.value)
        with pytest.raises(ValueError) as error:
            impl.train(*problem, lr=0.1, **kwargs)
        assert words in str(error.value)


@pytest.mark.parametrize("name", implementations.NAMES)
def test_memory_is_a_fraction_of_bptt(impls, name):
    """Framework's own measure at T = 4096: checkpointed (c = 64) <= 1/8 of BPTT."""
    impl = impls[name]
    params, x, y, mask = random_problem(T=4096, B=2, D=4, H=16, O=4, dtype="float32", seed=3)
    peaks = {}
    for method, kwargs in (("bptt", {}), ("checkpointed", {"segment": 64})):
        run = lambda: impl.loss_and_grad(params, x, y, mask, method=method, **kwargs)  # noqa: E731
        peaks[method] = impl.measure_peak_bytes(run, inputs=(x, y, mask))[1]
    print(f"{name}: checkpointed/BPTT memory {peaks['checkpointed'] / peaks['bptt']:.3f} ({peaks})")
    assert peaks["checkpointed"] <= peaks["bptt"] / 8, peaks
    assert peaks["checkpointed"] >= 64 * 2 * 16 * 4, f"less than one segment's states: {peaks}"


def test_cost_model_counts_what_the_implementations_do():
    """T = 10, c = 4: segments (0,4], (4,8], (8,10]; the first two are recomputed."""
    model = cost("checkpointed", 10, B=1, D=1, H=1, O=1, segment=4)
    assert (model.forward_steps, model.backward_steps) == (10 + 8, 10)
    assert model.activation_bytes == (3 + 4) * 4
    assert cost("checkpointed", 10, 1, 1, 1, 1, segment=20).forward_steps == 10  # one segment: no recompute
    assert cost("checkpointed", 16, 1, 1, 1, 1).forward_steps == 16 + 12  # default c = 4
