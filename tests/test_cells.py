"""The gated cells (lstm, gru): every implementation against torch.nn.LSTM/GRU, against each
other, against finite differences, and the contract's identities. Measured errors are printed
(pytest -s shows them)."""

import itertools

import numpy as np
import pytest

import implementations
import reference_cells
from test_memory import output_bytes
from test_validation import guarded  # noqa: F401  (fixture)
from bptt_bench.problems import random_problem
from conftest import max_gradient_error, relative_error

GATED = ["lstm", "gru"]
T = 13
# (method, k1, k2) at T = 13: BPTT, k1 = k2 with a short last segment (carries the state), k2 < k1 (frozen
# prefix), k1 < k2 (overlapping windows). Each window shape is a JAX compilation, so the Elman cell's
# tests (test_agreement, test_reference) cover the schedule's other corners (k1 = 1, k2 >= T).
SETTINGS = [("bptt", None, None), ("tbptt", 4, 4), ("tbptt", 5, 2), ("tbptt", 3, 7)]
CASES = [("ce", setting) for setting in SETTINGS] + [("mse", SETTINGS[0]), ("mse", SETTINGS[2])]
PAIRS = list(itertools.combinations(implementations.NAMES, 2))


def setting_id(setting):
    method, k1, k2 = setting
    return method if k1 is None else f"{method}({k1},{k2})"


def cell_problem(cell, loss="ce", dtype="float64", T=T, seed=0, H=6, **kwargs):
    return random_problem(T=T, B=3, D=4, H=H, O=5, dtype=dtype, loss=loss, masked_fraction=0.3, seed=seed,
                          cell=cell, **kwargs)


def call(impl, problem, cell, loss, setting):
    method, k1, k2 = setting
    return impl.loss_and_grad(*problem, method=method, loss=loss, k1=k1, k2=k2, cell=cell)


@pytest.fixture(scope="module")
def results(impls):
    """Lazily computed (loss, grads) per (impl, cell, loss, dtype, T, setting)."""
    cache = {}

    def get(name, cell, loss, dtype, T, setting):
        key = (name, cell, loss, dtype, T, setting)
        if key not in cache:
            problem = cell_problem(cell, loss, dtype, T=T, H=16 if dtype == "float32" else 6)
            cache[key] = call(impls[name], problem, cell, loss, setting)
        return cache[key]

    return get


@pytest.mark.parametrize("loss, setting", CASES, ids=lambda case: case if isinstance(case, str) else setting_id(case))
@pytest.mark.parametrize("cell", GATED)
def test_matches_torch_nn(results, impls, cell, loss, setting):
    """Loss and every gradient equal torch.nn.LSTM/GRU's (naive per-segment driver), float64."""
    method, k1, k2 = setting
    k1, k2 = (T, T) if method == "bptt" else (k1, k2)
    ref_loss, ref_grads = reference_cells.tbptt_gradient(cell, *cell_problem(cell, loss), loss, k1, k2)
    for name in impls:
        value, grads = results(name, cell, loss, "float64", T, setting)
        assert set(grads) == set(ref_grads), name
        error, worst = max_gradient_error(grads, ref_grads)
        print(f"{cell} {loss} {setting_id(setting)} {name} vs torch.nn: loss {relative_error(value, ref_loss):.1e}, "
              f"gradient {error:.1e} ({worst})")
        assert relative_error(value, ref_loss) <= 1e-12, name
        assert error <= 1e-10, f"{name}: {worst} {error:.1e}"


@pytest.mark.parametrize("loss, setting", CASES, ids=lambda case: case if isinstance(case, str) else setting_id(case))
@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("pair", PAIRS, ids="-".join)
def test_float64_agreement(results, pair, cell, loss, setting):
    (loss_a, grads_a), (loss_b, grads_b) = (results(name, cell, loss, "float64", T, setting) for name in pair)
    assert relative_error(loss_a, loss_b) <= 1e-10
    error, worst = max_gradient_error(grads_a, grads_b)
    assert error <= 1e-10, f"{pair} {cell} {loss} {setting}: relative error {error:.2e} in {worst}"
    assert all(g.dtype == np.float64 for g in grads_a.values())


@pytest.mark.parametrize("T_long", [64, 256])
@pytest.mark.parametrize("setting", [("bptt", None, None), ("tbptt", 16, 32), ("tbptt", 32, 8)], ids=setting_id)
@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("pair", PAIRS, ids="-".join)
def test_float32_agreement(results, pair, cell, setting, T_long):
    (loss_a, grads_a), (loss_b, grads_b) = (results(name, cell, "ce", "float32", T_long, setting) for name in pair)
    error, worst = max_gradient_error(grads_a, grads_b)
    message = (f"float32 {cell} {pair} {setting_id(setting)} T={T_long}: loss error "
               f"{relative_error(loss_a, loss_b):.1e}, gradient error {error:.1e} ({worst})")
    print(message)
    assert all(g.dtype == np.float32 for g in grads_a.values())
    assert relative_error(loss_a, loss_b) <= 1e-4 and error <= 1e-4, message


@pytest.mark.parametrize("clip", [None, 0.5])
@pytest.mark.parametrize("k1,k2", [(4, 4), (5, 2), (3, 7)])
@pytest.mark.parametrize("cell", GATED)
def test_training_mode_matches_torch_nn(impls, cell, k1, k2, clip):
    params, x, y, mask = cell_problem(cell)
    ref_losses, ref_params = reference_cells.tbptt_train(cell, params, x, y, mask, "ce", k1, k2, lr=0.3, clip=clip)
    for name, impl in impls.items():
        losses, new_params = impl.train_tbptt(params, x, y, mask, k1=k1, k2=k2, lr=0.3, clip=clip, cell=cell)
        np.testing.assert_allclose(losses, ref_losses, rtol=1e-10, err_msg=name)
        error, worst = max_gradient_error(new_params, ref_params)
        assert error <= 1e-9, f"{name}: {worst} differs by {error:.1e}"


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("cell", GATED)
def test_finite_differences(impls, cell, loss):
    """Central differences of the BPTT loss, float64, on 3 random entries of every parameter
    of a tiny cell (H = 3, T = 6)."""
    params, x, y, mask = random_problem(T=6, B=2, D=3, H=3, O=4, dtype="float64", loss=loss, seed=5, cell=cell,
                                        forget_bias=1.0 if cell == "lstm" else 0.0)
    impl = impls["numpy"]
    _, grads = impl.loss_and_grad(params, x, y, mask, loss=loss, cell=cell)
    objective = lambda theta: impl.loss_and_grad(theta, x, y, mask, loss=loss, cell=cell)[0]  # noqa: E731
    rng = np.random.default_rng(7)
    eps = 1e-6
    for name, value in params.items():
        for _ in range(3):
            index = tuple(rng.integers(0, n) for n in value.shape)
            plus, minus = dict(params), dict(params)
            plus[name], minus[name] = value.copy(), value.copy()
            plus[name][index] += eps
            minus[name][index] -= eps
            numeric = (objective(plus) - objective(minus)) / (2 * eps)
            assert abs(numeric - grads[name][index]) <= 1e-7 * max(1.0, abs(numeric)), (name, index)


@pytest.mark.parametrize("cell", GATED)
def test_identities(impls, cell):
    """TBPTT(k1, k2 >= T) == BPTT for k1 below, at and above T, and TBPTT(T, T) == BPTT; both losses."""
    for loss in ("ce", "mse"):
        problem = cell_problem(cell, loss, seed=2)
        for name, impl in impls.items():
            value, grads = impl.loss_and_grad(*problem, loss=loss, cell=cell)
            for k1, k2 in [(5, T), (5, T + 7), (T, T), (40, T)]:
                t_value, t_grads = call(impl, problem, cell, loss, ("tbptt", k1, k2))
                assert relative_error(t_value, value) <= 1e-12, (name, k1, k2)
                error, worst = max_gradient_error(t_grads, grads)
                assert error <= 1e-12, f"{name} {cell} TBPTT({k1},{k2}): {worst} {error:.1e}"


@pytest.mark.parametrize("cell", GATED)
def test_checkpointed_is_bptt(impls, cell):
    """Checkpointed BPTT's gradient is BPTT's for c = 1, c not dividing T, and the default ceil(sqrt(T))."""
    problem = cell_problem(cell, seed=3)
    for name, impl in impls.items():
        value, grads = impl.loss_and_grad(*problem, cell=cell)
        for segment in (1, 4, None):
            c_value, c_grads = impl.loss_and_grad(*problem, method="checkpointed", segment=segment, cell=cell)
            assert relative_error(c_value, value) <= 1e-12, (name, segment)
            error, worst = max_gradient_error(c_grads, grads)
            assert error <= 1e-12, f"{name} {cell} checkpointed({segment}): {worst} {error:.1e}"


@pytest.mark.parametrize("cell", GATED)
def test_training_with_zero_step_is_gradient_mode(impls, cell):
    """lr = 0 leaves the parameters untouched; the segment losses sum to L."""
    params, x, y, mask = cell_problem(cell)
    for name, impl in impls.items():
        total, _ = impl.loss_and_grad(params, x, y, mask, cell=cell)
        losses, unchanged = impl.train_tbptt(params, x, y, mask, k1=3, k2=7, lr=0.0, cell=cell)
        assert all(np.array_equal(unchanged[k], params[k]) for k in params), name
        assert relative_error(sum(losses), total) <= 1e-12, name


def bad_cell_calls():
    """(description, params, cell, words the message must contain)."""
    lstm, _, _, _ = cell_problem("lstm")
    gru, _, _, _ = cell_problem("gru")
    elman = random_problem(T=T, B=3, D=4, H=6, O=5, dtype="float64")[0]
    return [
        ("unknown cell", lstm, "vanilla", ["cell", "'vanilla'", "rnn_tanh", "lstm", "gru"]),
        ("lstm missing W_hh", {k: v for k, v in lstm.items() if k != "W_hh"}, "lstm", ["W_hh", "'lstm'", "missing"]),
        ("lstm extra b_hh", lstm | {"b_hh": gru["b_hh"][:24]}, "lstm", ["b_hh", "'lstm'", "unknown"]),
        ("gru given lstm's b_h", {k: v for k, v in gru.items() if k != "b_hh"} | {"b_h": lstm["b_h"]}, "gru",
         ["b_hh", "b_h", "'gru'"]),
        ("lstm W_hh (H, 3H)", lstm | {"W_hh": gru["W_hh"]}, "lstm", ["W_hh", "(6, 24)", "'lstm'"]),
        ("gru b_xh (4H,)", gru | {"b_xh": lstm["b_h"]}, "gru", ["b_xh", "(18,)", "'gru'"]),
        ("lstm W_xh (D, H)", lstm | {"W_xh": elman["W_xh"]}, "lstm", ["W_xh", "'lstm'"]),
        ("Elman params as lstm", elman, "lstm", ["W_xh", "'lstm'"]),
        ("lstm params as rnn_tanh", lstm, "rnn_tanh", ["W_xh", "'rnn_tanh'"]),
    ]


@pytest.mark.parametrize("case", bad_cell_calls(), ids=lambda case: case[0])
def test_bad_cell_or_params_are_named(guarded, case):
    _, params, cell, words = case
    _, x, y, mask = cell_problem("lstm")
    for name, impl in guarded.items():
        for call_contract in (
            lambda: impl.loss_and_grad(params, x, y, mask, method="tbptt", k1=4, k2=4, cell=cell),
            lambda: impl.train_tbptt(params, x, y, mask, k1=4, k2=4, lr=0.1, cell=cell),
        ):
            with pytest.raises(ValueError) as error:
                call_contract()
            assert all(word in str(error.value) for word in words), (name, str(error.value))


def test_forget_bias_is_lstm_only():
    params = random_problem(T=2, B=1, D=2, H=3, O=2, dtype="float64", cell="lstm", forget_bias=1.0, seed=1)[0]
    plain = random_problem(T=2, B=1, D=2, H=3, O=2, dtype="float64", cell="lstm", seed=1)[0]
    np.testing.assert_allclose(params["b_h"] - plain["b_h"], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="forget_bias"):
        random_problem(T=2, B=1, D=2, H=3, O=2, cell="gru", forget_bias=1.0)


# Long sequence of the streaming check: 20x the short run (625 windows; a value kept per window
# would show). The frameworks' own measures cost most of the suite's time here (tracemalloc sees
# every NumPy allocation, 7x a gated step's time; PyTorch's saved-tensor hook), so only JAX's
# goes to 100,000; test_memory checks the Elman cell at 100,000 in NumPy and JAX, 20,000 in PyTorch.
LONG_T = {"jax": 100_000}


@pytest.mark.parametrize("cell", GATED)
def test_tbptt_memory_does_not_grow_with_T(impls, cell):
    """Streaming: each framework's own peak for online TBPTT(32, 32) is the same at 20,000 steps
    (100,000 for JAX) as at 1,000, the carried (h, c) pair included; BPTT's grows with T (the
    measure can tell)."""
    sizes = dict(B=2, D=3, H=8, O=3, seed=3, cell=cell)

    def peak(impl, T, method="tbptt"):
        params, x, y, mask = random_problem(T=T, **sizes)
        if method == "bptt":
            run = lambda: impl.loss_and_grad(params, x, y, mask, cell=cell)  # noqa: E731
        else:
            run = lambda: impl.train_tbptt(params, x, y, mask, k1=32, k2=32, lr=0.01, cell=cell)  # noqa: E731
        result, value = impl.measure_peak_bytes(run, inputs=(x, y, mask))
        if implementations.REGISTRY[impl.name].native_memory == "tracemalloc":  # sees the returned losses too
            value -= output_bytes(result[0])
        return value

    for name, impl in impls.items():
        long_T = LONG_T.get(name, 20_000)
        short, long = peak(impl, 1_000), peak(impl, long_T)
        window_states = 32 * sizes["B"] * sizes["H"] * 4
        assert short >= window_states, f"{name}: measured {short} B, less than the window's own states"
        assert long <= 1.1 * short, f"{name} {cell}: {long} B at T={long_T} vs {short} B at T=1000"
        grows = peak(impl, 800, "bptt") / peak(impl, 200, "bptt")
        assert 3.0 <= grows <= 5.0, f"{name} {cell}: BPTT memory x{grows:.2f} for 4x the steps"
