"""The study's tasks: seeded generators of (x (T,B,D), y, mask (T,B)), written once in NumPy.

Every generator takes `seed` (an int or a `numpy.random.Generator`) and a float `dtype`,
so every framework trains on the very same inputs. y is (T,B) integer class ids for
loss 'ce' and (T,B,O) floats for loss 'mse'; mask is 1 at the steps that have a target.

- delayed recall: one-hot symbols out of V; the target at step t is the symbol seen at
  step t - lag (no target for t <= lag). The dependency length is exactly `lag`.
- copy memory (Arjovsky, Shah & Bengio 2016): 10 symbols out of 8, blank - 1 blanks, a
  marker, 10 blanks; the target is blanks, then the 10 symbols. T = blank + 20 and
  every symbol is recalled lag = blank + 10 steps after it was seen.
- adding problem (Hochreiter & Schmidhuber 1997, Arjovsky's variant): a value channel
  U[0, 1] and a marker channel with one marker in each half; the target is the sum of
  the two marked values, at the last step only.
- digits: scikit-learn's 8x8 digits read pixel by pixel (T = 64, D = 1, pixels / 16),
  the class at the last step only; a fixed, stratified train / held-out split.
- echo (R2RT, 2016): bits x_t ~ Bernoulli(0.5), one-hot; a noisy target y_t ~ Bernoulli(
  0.5 + 0.5 x_{t-3} - 0.25 x_{t-8}). Its expected cross-entropy is known exactly for a
  predictor that knows neither lag, lag 3 only, or both (`echo_levels`).

`info(name, **params)` gives each task's sizes, loss, lag and memoryless baseline;
`make(name, B, seed, dtype, held_out, **params)` draws a batch of any task by name.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np

from implementations.contract import FLOAT_DTYPES, check_choice, check_positive_int

COPY_SYMBOLS = 10  # symbols to remember, Arjovsky et al.
COPY_ALPHABET = 8  # drawn from 1..8; 0 is the blank, 9 the marker
DIGITS_T = 64
DIGITS_HELD_OUT = 0.25  # fraction of the 1797 images held out, stratified by class
DIGITS_SPLIT_SEED = 0  # the split is fixed: every run and framework sees the same one
SPLITS = ("train", "held_out")


@dataclass(frozen=True)
class TaskInfo:
    """What a task is, for the training loop and the figures.

    lag: steps between an input and the target that needs it (the longest one for the
    adding problem and digits). baseline_loss: loss per target step of the best
    predictor that ignores the past, in the units the training table reports
    (cross-entropy in nats; plain squared error for 'mse'). chance_accuracy: its
    accuracy over the target steps (NaN for 'mse').
    """

    name: str
    T: int
    D: int
    O: int
    loss: str
    lag: int
    baseline_loss: float
    chance_accuracy: float


def _rng_and_dtype(seed, dtype) -> tuple[np.random.Generator, np.dtype]:
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64; got {dtype}")
    return np.random.default_rng(seed), dtype


# -- delayed recall --------------------------------------------------------------------


def delayed_recall_info(T: int, lag: int, V: int = 4) -> TaskInfo:
    check_positive_int("T", T)
    check_positive_int("lag", lag)
    if check_positive_int("V", V) < 2:
        raise ValueError(f"V (the number of symbols) must be >= 2; got {V}")
    if lag >= T:
        raise ValueError(f"lag must be < T so that some step has a target; got lag={lag}, T={T}")
    return TaskInfo("delayed_recall", T, V, V, "ce", lag, math.log(V), 1 / V)


def make_delayed_recall(T: int, lag: int, B: int, seed=0, V: int = 4, dtype="float32"):
    """x (T,B,V) one-hot symbols, y (T,B) with y[t] = symbol[t - lag], mask (T,B) = [t >= lag].

    Steps are 0-based here: the first `lag` steps have no target.
    """
    delayed_recall_info(T, lag, V)
    check_positive_int("B", B)
    rng, dtype = _rng_and_dtype(seed, dtype)
    symbols = rng.integers(0, V, (T, B))
    x = np.eye(V, dtype=dtype)[symbols]
    y = np.zeros((T, B), np.int64)
    y[lag:] = symbols[:-lag]
    mask = np.zeros((T, B), dtype)
    mask[lag:] = 1
    return x, y, mask


# -- copy memory -------------------------------------------------------------------------


def copy_memory_info(blank: int) -> TaskInfo:
    check_positive_int("blank", blank)
    T = blank + 2 * COPY_SYMBOLS
    baseline = COPY_SYMBOLS * math.log(COPY_ALPHABET) / T  # blanks right, the symbols guessed
    chance = (T - COPY_SYMBOLS + COPY_SYMBOLS / COPY_ALPHABET) / T
    return TaskInfo(
        "copy_memory", T, COPY_ALPHABET + 2, COPY_ALPHABET + 1, "ce", blank + COPY_SYMBOLS, baseline, chance
    )


def make_copy_memory(blank: int, B: int, seed=0, dtype="float32"):
    """x (T,B,10) one-hot, y (T,B) ids in 0..8, mask (T,B) all ones; T = blank + 20.

    Input ids: 10 symbols in 1..8, blank - 1 zeros, the marker 9, 10 zeros. Target ids:
    T - 10 zeros, then the 10 symbols. Every step counts in the loss, as in Arjovsky
    et al., so the memoryless baseline is 10 log(8) / T per step.
    """
    info = copy_memory_info(blank)
    check_positive_int("B", B)
    rng, dtype = _rng_and_dtype(seed, dtype)
    symbols = rng.integers(1, COPY_ALPHABET + 1, (COPY_SYMBOLS, B))
    ids = np.zeros((info.T, B), np.int64)
    ids[:COPY_SYMBOLS] = symbols
    ids[info.T - COPY_SYMBOLS - 1] = COPY_ALPHABET + 1  # the marker
    y = np.zeros((info.T, B), np.int64)
    y[info.T - COPY_SYMBOLS :] = symbols
    return np.eye(info.D, dtype=dtype)[ids], y, np.ones((info.T, B), dtype)


# -- adding problem ----------------------------------------------------------------------


def adding_info(T: int) -> TaskInfo:
    if check_positive_int("T", T) < 2:
        raise ValueError(f"T must be >= 2 for the adding problem (one marker per half); got {T}")
    # Predicting the mean sum 1 leaves the variance of a sum of two U[0,1]: 2/12.
    return TaskInfo("adding", T, 2, 1, "mse", T - 1, 1 / 6, math.nan)


def make_adding(T: int, B: int, seed=0, dtype="float32"):
    """x (T,B,2) = (value U[0,1], marker 0/1), y (T,B,1) the marked sum at the last step, mask (T,B).

    One marker lies in steps [0, T//2), the other in [T//2, T); y and mask are zero
    except at the last step.
    """
    adding_info(T)
    check_positive_int("B", B)
    rng, dtype = _rng_and_dtype(seed, dtype)
    x = np.zeros((T, B, 2), dtype)
    x[:, :, 0] = rng.random((T, B))
    half = T // 2
    batch = np.arange(B)
    x[rng.integers(0, half, B), batch, 1] = 1
    x[rng.integers(half, T, B), batch, 1] = 1
    y = np.zeros((T, B, 1), dtype)
    y[-1, :, 0] = (x[:, :, 0] * x[:, :, 1]).sum(axis=0)
    mask = np.zeros((T, B), dtype)
    mask[-1] = 1
    return x, y, mask


# -- digits ------------------------------------------------------------------------------


def digits_info() -> TaskInfo:
    return TaskInfo("digits", DIGITS_T, 1, 10, "ce", DIGITS_T - 1, math.log(10), 0.1)


@functools.cache
def digits_split() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{'train': (pixels (N,64) in [0,1], labels (N,)), 'held_out': ...}, fixed by DIGITS_SPLIT_SEED."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    pixels = data.data / 16.0
    split = train_test_split(
        pixels, data.target, test_size=DIGITS_HELD_OUT, stratify=data.target, random_state=DIGITS_SPLIT_SEED
    )
    return {"train": (split[0], split[2]), "held_out": (split[1], split[3])}


def make_digits(B: int, seed=0, split: str = "train", dtype="float32"):
    """B distinct images of `split`: x (64,B,1) pixels in raster order, y (64,B), mask (64,B).

    y holds the class at every step but only the last step is unmasked.
    """
    check_positive_int("B", B)
    check_choice("split", split, SPLITS)
    rng, dtype = _rng_and_dtype(seed, dtype)
    pixels, labels = digits_split()[split]
    if B > len(labels):
        raise ValueError(f"B must be <= {len(labels)}, the size of the digits {split!r} split; got {B}")
    chosen = rng.choice(len(labels), B, replace=False)
    x = np.ascontiguousarray(pixels[chosen].T[:, :, None], dtype=dtype)
    y = np.repeat(labels[chosen][None, :], DIGITS_T, axis=0).astype(np.int64)
    mask = np.zeros((DIGITS_T, B), dtype)
    mask[-1] = 1
    return x, y, mask


# -- echo ----------------------------------------------------------------------------------

ECHO_LAGS = (3, 8)  # P(y_t = 1) = 0.5 + 0.5 x_{t-3} - 0.25 x_{t-8}
ECHO_WEIGHTS = (0.5, -0.25)


def _bernoulli_entropy(p: float) -> float:
    return -sum(q * math.log(q) for q in (p, 1 - p) if q > 0)


def echo_levels() -> dict[str, float]:
    """Expected cross-entropy (nats) of the best predictor that knows none, lag 3 only, or both lags.

    The best predictor that sees a set of past bits predicts P(y_t = 1 | those bits), the
    average of 0.5 + 0.5 x_{t-3} - 0.25 x_{t-8} over the bits it does not see; its expected
    cross-entropy is the mean binary entropy of that probability over the bits it sees
    (docs/experiments.md derives 0.6616, 0.5192, 0.45445).
    """
    def level(known: tuple[bool, bool]) -> float:
        entropies = []
        for bits in itertools.product((0, 1), repeat=2):
            p = 0.5 + sum(
                w * (bit if seen else 0.5) for w, bit, seen in zip(ECHO_WEIGHTS, bits, known)
            )
            entropies.append(_bernoulli_entropy(p))
        return sum(entropies) / len(entropies)

    return {"none": level((False, False)), "lag3": level((True, False)), "both": level((True, True))}


def echo_info(T: int) -> TaskInfo:
    if check_positive_int("T", T) <= ECHO_LAGS[-1]:
        raise ValueError(f"T must be > {ECHO_LAGS[-1]} for the echo task (targets start at step 8); got {T}")
    # Always predicting 1 (P = 0.625) is right 62.5 % of the time.
    return TaskInfo("echo", T, 2, 2, "ce", ECHO_LAGS[-1], echo_levels()["none"], 0.625)


def make_echo(T: int, B: int, seed=0, dtype="float32"):
    """x (T,B,2) one-hot bits, y (T,B) sampled bits, mask (T,B) = [t >= 8] (0-based steps).

    The first 8 steps have no target, so that every target depends on two real bits and
    the expected loss levels are exact.
    """
    info = echo_info(T)
    check_positive_int("B", B)
    rng, dtype = _rng_and_dtype(seed, dtype)
    bits = rng.integers(0, 2, (T, B))
    p = np.full((T, B), 0.5)
    for lag, weight in zip(ECHO_LAGS, ECHO_WEIGHTS):
        p[lag:] += weight * bits[:-lag]
    y = (rng.random((T, B)) < p).astype(np.int64)
    mask = np.zeros((T, B), dtype)
    mask[info.lag :] = 1
    return np.eye(2, dtype=dtype)[bits], y, mask


# -- by name ------------------------------------------------------------------------------

TASKS = {
    "delayed_recall": (make_delayed_recall, delayed_recall_info),
    "copy_memory": (make_copy_memory, copy_memory_info),
    "adding": (make_adding, adding_info),
    "digits": (make_digits, digits_info),
    "echo": (make_echo, echo_info),
}


def info(name: str, **params) -> TaskInfo:
    """The TaskInfo of task `name` with its parameters, e.g. info("delayed_recall", T=32, lag=8)."""
    check_choice("task", name, tuple(TASKS))
    return TASKS[name][1](**params)


def make(name: str, B: int, seed=0, dtype="float32", held_out: bool = False, **params):
    """A batch (x, y, mask) of task `name`; params as for its make_<task> function.

    held_out: digits draw from the held-out split; the generated tasks draw from a child
    stream of `seed` (Generator.spawn), independent of the training draws from `seed`.
    """
    check_choice("task", name, tuple(TASKS))
    if name == "digits":
        params["split"] = SPLITS[held_out]
    elif held_out:
        seed = np.random.default_rng(seed).spawn(1)[0]
    return TASKS[name][0](B=B, seed=seed, dtype=dtype, **params)
