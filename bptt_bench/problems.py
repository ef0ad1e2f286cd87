"""Random parameters and inputs for the contract: the one place tests, demo and benchmarks draw them."""

from __future__ import annotations

import numpy as np

from implementations.contract import CELLS, LOSSES, check_choice, check_positive_int, param_shapes


def init_params(
    D: int, H: int, O: int, dtype="float32", radius: float = 1.0, seed: int = 0,
    cell: str = "rnn_tanh", forget_bias: float = 0.0,
) -> dict[str, np.ndarray]:
    """Parameters of `cell` (shapes: contract.param_shapes), drawn from `seed`.

    rnn_tanh: Gaussian; W_hh ~ N(0, radius^2 / H) has spectral radius close to `radius`.
    lstm, gru: PyTorch's initialisation, every parameter uniform in +-1/sqrt(H) (`radius`
    unused); the readout as for rnn_tanh. forget_bias (lstm only) is added to the
    forget gate's part of b_h (1.0 is the common choice; 0.0 is PyTorch's default).
    """
    check_choice("cell", cell, CELLS)
    if forget_bias and cell != "lstm":
        raise ValueError(f"forget_bias applies to cell 'lstm' only; got {forget_bias} for cell {cell!r}")
    rng = np.random.default_rng(seed)
    if cell != "rnn_tanh":
        bound = 1 / np.sqrt(H)
        shapes = param_shapes(cell, D, H, O)
        params = {name: rng.uniform(-bound, bound, shape) for name, shape in shapes.items() if name[-2:] != "hy"}
        params["W_hy"] = rng.standard_normal((H, O)) / np.sqrt(H)
        params["b_y"] = 0.1 * rng.standard_normal(O)
        if cell == "lstm":
            params["b_h"][H : 2 * H] += forget_bias
        return {name: params[name].astype(dtype) for name in shapes}
    params = {
        "W_xh": rng.standard_normal((D, H)) / np.sqrt(D),
        "W_hh": rng.standard_normal((H, H)) * (radius / np.sqrt(H)),
        "b_h": 0.1 * rng.standard_normal(H),
        "W_hy": rng.standard_normal((H, O)) / np.sqrt(H),
        "b_y": 0.1 * rng.standard_normal(O),
    }
    return {name: value.astype(dtype) for name, value in params.items()}


def random_problem(
    T: int, B: int, D: int, H: int, O: int, dtype="float32", loss: str = "ce",
    masked_fraction: float = 0.0, radius: float = 1.0, seed: int = 0, cell: str = "rnn_tanh",
    forget_bias: float = 0.0,
):
    """(params, x (T,B,D), y, mask (T,B)) drawn from `seed`; y is (T,B) ids for 'ce', (T,B,O) for 'mse'."""
    for name, value in dict(T=T, B=B, D=D, H=H, O=O).items():
        check_positive_int(name, value)
    check_choice("loss", loss, LOSSES)
    params = init_params(D, H, O, dtype, radius, seed, cell, forget_bias)
    rng = np.random.default_rng([seed, 1])
    x = rng.standard_normal((T, B, D)).astype(dtype)
    y = rng.integers(0, O, (T, B)) if loss == "ce" else rng.standard_normal((T, B, O)).astype(dtype)
    mask = (rng.random((T, B)) >= masked_fraction).astype(dtype)
    return params, x, y, mask
