"""TBPTT is streaming: working memory depends on k2, not on T. BPTT's grows with T.

The one thing that does grow with T is the contract's own output, the list of segment
losses (a Python float per segment), held as framework scalars until the sequence ends
(no host round trip per window). A figure that sees Python objects (tracemalloc) sees
both lists, so their size is subtracted from it; the others count framework buffers only.
"""

import sys

import numpy as np
import pytest

import implementations
from bptt_bench.problems import random_problem

SIZES = dict(B=4, D=8, H=64, O=8)


def peak_bytes(impl, T, method="tbptt", dtype="float32"):
    params, x, y, mask = random_problem(T=T, dtype=dtype, seed=3, **SIZES)
    if method == "bptt":
        run = lambda: impl.loss_and_grad(params, x, y, mask)  # noqa: E731
    else:
        run = lambda: impl.train_tbptt(params, x, y, mask, k1=16, k2=32, lr=0.01)  # noqa: E731
    result, peak = impl.measure_peak_bytes(run, inputs=(x, y, mask))
    sees_python_objects = implementations.REGISTRY[impl.name].native_memory == "tracemalloc"
    return peak - output_bytes(result[0]) if sees_python_objects else peak


def output_bytes(losses) -> int:
    """The returned list of floats, and the list of NumPy scalars it was converted from."""
    if not isinstance(losses, list):
        return 0
    python = sys.getsizeof(losses) + sum(sys.getsizeof(value) for value in losses)
    return python + sys.getsizeof(losses) + len(losses) * sys.getsizeof(np.float64(0))


# PyTorch's step loop at these sizes is the slowest framework here: alone, 100,000 steps took 15 s
# (torch) and about 25 s (torch_nn) against 8 s (NumPy) and 6 s (JAX), and 142 s in the suite before
# tests ran one thread per process. What its measure sees, autograd's saved storages, would grow by a
# state per step if the graph were not cut, which 20x the short run shows as plainly.
LONG_T = {"torch": 20_000, "torch_nn": 20_000}


@pytest.mark.parametrize("name", implementations.NAMES)
def test_tbptt_memory_does_not_grow_with_T(impls, name):
    long_T = LONG_T.get(name, 100_000)
    short, long = peak_bytes(impls[name], 1_000), peak_bytes(impls[name], long_T)
    window_states = 32 * SIZES["B"] * SIZES["H"] * 4
    assert short >= window_states, f"{name}: measured {short} B, less than the window's own states"
    assert long <= 1.1 * short, f"{name}: {long} B at T={long_T} vs {short} B at T=1000"


def test_tbptt_gradient_mode_is_streaming(impls):
    impl = impls["numpy"]
    peaks = []
    for T in (1_000, 20_000):
        params, x, y, mask = random_problem(T=T, seed=3, **SIZES)
        run = lambda: impl.loss_and_grad(params, x, y, mask, method="tbptt", k1=16, k2=32)  # noqa: E731
        peaks.append(impl.measure_peak_bytes(run)[1])
    assert peaks[1] <= 1.1 * peaks[0], peaks


@pytest.mark.parametrize("name", implementations.NAMES)
def test_bptt_memory_grows_with_T(impls, name):
    """The measurement can tell: BPTT keeps every state, so 4x the steps is ~4x the memory."""
    short, long = peak_bytes(impls[name], 200, "bptt"), peak_bytes(impls[name], 800, "bptt")
    assert 3.0 <= long / short <= 5.0, (short, long)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_jax_memory_analysis_reuses_the_programs_the_pass_compiled(dtype):
    """The compiled memory analysis lowers each program as the pass ran it (dtype, matmul precision):
    XLA's cache then returns the pass's executable; lowered otherwise, every program compiles twice
    (what a default study paid, about 80 s, when the precision setting was left out of the lowering)."""
    jax = pytest.importorskip("jax")
    impl = implementations.load("jax")
    problem = random_problem(T=64, B=4, H=8, D=3, O=3, seed=0, dtype=dtype)
    run = lambda: impl.train(*problem, "tbptt", k1=16, k2=32, lr=0.01)  # noqa: E731
    run()
    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda name, secs, **_: compiles.append(name) if name.endswith("backend_compile_duration") else None
    )
    _, peak = impl.measure_peak_bytes(run)
    assert peak > 0 and compiles == []
