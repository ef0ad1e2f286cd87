"""Checking the inputs of the shared contract, before any framework does work.

Every error is a ValueError whose message names the offending argument, so that a
bad call never ends in a traceback from deep inside NumPy, PyTorch or JAX.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

METHODS = ("bptt", "tbptt", "checkpointed")
LOSSES = ("ce", "mse")
DEVICES = ("cpu", "cuda")
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
CHECK_CHUNK = 256  # steps checked at a time, so that validation memory does not grow with T
PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")  # the Elman cell's (rnn_tanh); see param_names
CELLS = ("rnn_tanh", "lstm", "gru")
GATES = {"rnn_tanh": 1, "lstm": 4, "gru": 3}  # stacked pre-activations per hidden unit (SPEC.md gate order)


def param_shapes(cell: str, D: int, H: int, O: int) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of `cell` (../shared/SPEC.md), readout last."""
    G = GATES[check_choice("cell", cell, CELLS)] * H
    if cell == "gru":  # b_hh's n-part sits inside the reset gate, so the two biases stay apart
        recurrence = {"W_xh": (D, G), "W_hh": (H, G), "b_xh": (G,), "b_hh": (G,)}
    else:
        recurrence = {"W_xh": (D, G), "W_hh": (H, G), "b_h": (G,)}
    return recurrence | {"W_hy": (H, O), "b_y": (O,)}


def param_names(cell: str) -> tuple[str, ...]:
    return tuple(param_shapes(cell, 1, 1, 1))


@dataclass(frozen=True)
class Problem:
    """Validated inputs: x (T,B,D), y (T,B) int or (T,B,O) float, mask (T,B) of 0/1 (any numeric dtype)."""

    params: dict[str, np.ndarray]
    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    loss: str
    cell: str = "rnn_tanh"

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype

    @property
    def T(self) -> int:
        return self.x.shape[0]


def check_problem(params, x, y, mask, loss: str = "ce", cell: str = "rnn_tanh") -> Problem:
    """Return the inputs as a Problem, or raise ValueError naming what is wrong."""
    check_choice("loss", loss, LOSSES)
    check_choice("cell", cell, CELLS)
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (T, B, D); got shape {x.shape}")
    if x.dtype not in FLOAT_DTYPES:
        raise ValueError(f"x must be float32 or float64; got {x.dtype}")
    T, B, D = x.shape
    if min(T, B, D) < 1:
        raise ValueError(f"x must have T, B, D >= 1; got shape {x.shape}")
    params = _check_params(params, D, x.dtype, cell)
    H, O = params["W_hy"].shape
    y = _check_targets(np.asarray(y), loss, T, B, O, x.dtype)
    mask = _check_mask(np.asarray(mask), T, B)
    for name, array in [("x", x)] + ([("y", y)] if loss == "mse" else []):
        _check_finite(name, array)
    return Problem(params, x, y, mask, loss, cell)


def _check_params(params, D: int, dtype: np.dtype, cell: str) -> dict[str, np.ndarray]:
    names = param_names(cell)
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict of arrays {names} for cell {cell!r}; got {type(params).__name__}")
    missing = [name for name in names if name not in params]
    unknown = [name for name in params if name not in names]
    if missing or unknown:
        raise ValueError(
            f"params for cell {cell!r} must have exactly the keys {names}; missing {missing}, unknown {unknown}"
        )
    arrays = {name: np.asarray(params[name]) for name in names}
    if arrays["W_hy"].ndim != 2:
        raise ValueError(f"params['W_hy'] must be (H, O) for cell {cell!r}; got shape {arrays['W_hy'].shape}")
    H, O = arrays["W_hy"].shape
    for name, shape in param_shapes(cell, D, H, O).items():
        array = arrays[name]
        if array.shape != shape:
            raise ValueError(
                f"params[{name!r}] has shape {array.shape}; expected {shape} for cell {cell!r}"
                f" (D={D} from x, H={H} and O={O} from W_hy)"
            )
        if array.dtype != dtype:
            raise ValueError(f"params[{name!r}] has dtype {array.dtype}; expected x's dtype {dtype}")
        _check_finite(f"params[{name!r}]", array)
    if min(H, O) < 1:
        raise ValueError(f"hidden size H and output size O must be >= 1; got H={H}, O={O}")
    return arrays


def _check_targets(y: np.ndarray, loss: str, T: int, B: int, O: int, dtype: np.dtype) -> np.ndarray:
    if loss == "ce":
        if y.shape != (T, B):
            raise ValueError(f"y must have shape (T, B) = {(T, B)} for loss 'ce'; got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must hold integer class ids for loss 'ce'; got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= O):
            raise ValueError(f"y holds class ids outside [0, O) = [0, {O}): min {y.min()}, max {y.max()}")
        return y
    if y.shape != (T, B, O):
        raise ValueError(f"y must have shape (T, B, O) = {(T, B, O)} for loss 'mse'; got {y.shape}")
    if y.dtype != dtype:
        raise ValueError(f"y must have x's dtype {dtype} for loss 'mse'; got {y.dtype}")
    return y


def _check_mask(mask: np.ndarray, T: int, B: int) -> np.ndarray:
    if mask.shape != (T, B):
        raise ValueError(f"mask must have shape (T, B) = {(T, B)}; got {mask.shape}")
    if not (np.issubdtype(mask.dtype, np.number) or mask.dtype == bool):
        raise ValueError(f"mask must be numeric or bool; got dtype {mask.dtype}")
    if not all(((chunk == 0) | (chunk == 1)).all() for chunk in _chunks(mask)):
        raise ValueError("mask must hold only 0 and 1")
    return mask


def _check_finite(name: str, array: np.ndarray) -> None:
    if not all(np.isfinite(chunk).all() for chunk in _chunks(array)):
        raise ValueError(f"{name} contains NaN or Inf")


def _chunks(array: np.ndarray):
    """Slices of at most CHECK_CHUNK along the first axis (the whole array if 0-d)."""
    if array.ndim == 0:
        return [array]
    return (array[i : i + CHECK_CHUNK] for i in range(0, len(array), CHECK_CHUNK))


def check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {choices}")
    return value


def check_positive_int(name: str, value) -> int:
    """An integer >= 1 (Python or NumPy integer, not bool or float)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= 1; got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value}")
    return int(value)


def check_method(method: str, k1, k2, segment=None) -> tuple[int, int] | None:
    """The truncation (k1, k2) for 'tbptt', None for 'bptt' and 'checkpointed'.

    segment (checkpoint spacing) is for 'checkpointed' only: None or an integer >= 1.
    """
    check_choice("method", method, METHODS)
    if segment is not None:
        if method != "checkpointed":
            raise ValueError(f"segment applies to method='checkpointed' only; got segment={segment!r} "
                             f"with method={method!r}")
        check_positive_int("segment", segment)
    if method != "tbptt":
        if k1 is not None or k2 is not None:
            raise ValueError(f"k1 and k2 apply to method='tbptt' only; leave them out for {method!r}")
        return None
    if k1 is None or k2 is None:
        raise ValueError("method='tbptt' needs both k1 and k2")
    return check_positive_int("k1", k1), check_positive_int("k2", k2)


def check_device(device, implementation) -> str:
    """A device the implementation supports and can see: ValueError naming `device` otherwise."""
    check_choice("device", device, DEVICES)
    if device not in implementation.devices:
        raise ValueError(f"device {device!r} is not supported by implementation {implementation.name!r}; "
                         f"it runs on {implementation.devices}")
    if not implementation.device_available(device):
        raise ValueError(f"device {device!r} was asked for, but implementation {implementation.name!r} sees "
                         f"no {device.upper()} device on this machine ({implementation.backend_info()})")
    return device


def default_segment(T: int) -> int:
    """Checkpointed BPTT's default spacing: ceil(sqrt(T)) (memory ~ T/c + c is smallest there)."""
    return math.isqrt(T - 1) + 1


def check_training(lr, clip) -> tuple[float, float | None]:
    """The SGD step size lr (finite, >= 0) and the optional global-norm clip (> 0)."""
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not np.isfinite(lr) or lr < 0:
        raise ValueError(f"lr must be a finite number >= 0; got {lr!r}")
    if clip is not None and (
        isinstance(clip, bool) or not isinstance(clip, numbers.Real) or not np.isfinite(clip) or clip <= 0
    ):
        raise ValueError(f"clip must be None or a finite number > 0; got {clip!r}")
    return float(lr), None if clip is None else float(clip)
