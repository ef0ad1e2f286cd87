"""Experiment 1: which lags can each truncation learn? Delayed recall in three regimes.

The claim under test: TBPTT(k1, k2) has difficulty learning dependencies longer than
its truncation. A target at position i of a segment gets k2 - k1 + i steps of
backpropagation (k1 <= k2), at most k2, so only lags L < k2 have a gradient path from
the target back to the symbol it needs (`reach`).

Three regimes separate truncation from the update count (docs/experiments.md):

- gradient: one update per sequence for every setting, with BPTT's gradient or
  TBPTT's G = sum_j g_j: same data, same updates, only the gradient differs;
- online_equal_data: ceil(T/k1) updates per sequence, every setting on n_sequences;
- online_equal_updates: online, every setting makes n_updates updates (TBPTT(k1, k2)
  sees ceil(n_updates / ceil(T/k1)) sequences).

Every (lag, seed, learning rate) of a setting trains at once (`batched`); BPTT and any
setting with one update per sequence are the same computation in all regimes, run
once. `cell` is the recurrent cell (rnn_tanh, lstm, gru; forget_bias for the LSTM).
The readout-only control (method 'readout_only': recurrence frozen at its initial
values, W_hy and b_y trained with updates every k1 steps) runs in every regime.
Each run is scored on a validation batch and a separate held-out test batch; the
learning rate of each (regime, setting, lag) is chosen on validation (`analysis`).
"""

from __future__ import annotations

import math

import numpy as np

from bptt_bench import tasks
from bptt_bench.analysis import learnable_lag as analysis
from bptt_bench.problems import init_params
from implementations.contract import check_method, check_positive_int

REGIMES = ("gradient", "online_equal_data", "online_equal_updates")
METHODS = ("bptt", "tbptt", "readout_only")
# (method, k1, k2): detach every 4, overlapping windows TBPTT(4, 8) and TBPTT(8, 16), full
# BPTT, and the readout-only control updated every 4 steps (as often as the most frequent).
SETTINGS = (
    ("tbptt", 4, 4), ("tbptt", 4, 8), ("tbptt", 8, 16), ("bptt", None, None), ("readout_only", 4, None)
)
LRS = (0.005, 0.02, 0.1, 0.5)  # two decades


def check_setting(method: str, k1, k2) -> tuple[int | None, int | None]:
    """(k1, k2) of a setting for the trainer: BPTT (None, None); readout_only (k1 or None, None)."""
    if method == "readout_only":
        if k2 is not None:
            raise ValueError("readout_only takes k1 (steps between its updates) only; leave k2 empty")
        return (None if k1 is None else check_positive_int("k1", k1)), None
    truncation = check_method(method, k1, k2)
    return (None, None) if truncation is None else truncation


def updates_per_sequence(T: int, k1: int | None) -> int:
    """Online updates one sequence makes: ceil(T/k1), or 1 for k1 = None (one window)."""
    return 1 if k1 is None else math.ceil(T / k1)


def _recall_symbols(seed: int, n: int, T: int, B: int, V: int) -> np.ndarray:
    """(n, T, B) training symbols: the stream training.train draws for this seed."""
    rng = np.random.default_rng([seed, 1])
    return np.stack([rng.integers(0, V, (T, B)) for _ in range(n)])


def _held_out_symbols(seed: int, split: str, T: int, n_eval: int, V: int) -> np.ndarray:
    """(T, n_eval) symbols: 'test' is training.train's held-out batch, 'validation' a separate stream."""
    if split == "test":
        x = tasks.make("delayed_recall", n_eval, [seed, 1], held_out=True, T=T, lag=1, V=V)[0]
        return x.argmax(axis=-1)
    return np.random.default_rng([seed, 2]).integers(0, V, (T, n_eval))


def learnable_lag(
    *,
    lags=(2, 4, 6, 8, 12, 16),
    settings=SETTINGS,
    seeds=(0, 1, 2, 3, 4),
    lrs=LRS,
    regimes=REGIMES,
    T: int = 32,
    V: int = 4,
    H: int = 32,
    B: int = 16,
    n_sequences: int = 500,
    n_updates: int | None = None,
    clip: float | None = None,
    eval_every: int = 250,
    n_eval: int = 256,
    dtype: str = "float32",
    cell: str = "rnn_tanh",
    forget_bias: float = 0.0,
) -> list[dict]:
    """Rows (tables.LEARNABLE_LAG_COLUMNS) of every (regime, setting, lag, seed, lr) of `cell` on delayed recall.

    A row per run at sequence 0, every eval_every sequences and at the end (a diverged
    run's last row says 'diverged', its scores NaN). Within a seed every setting
    shares the initial parameters and the sequences. n_updates (online_equal_updates)
    defaults to n_sequences. lr_chosen marks, per (regime, setting, lag), the learning
    rate with the best mean final validation accuracy over seeds.
    """
    for name, value in dict(T=T, V=V, H=H, B=B, n_sequences=n_sequences, eval_every=eval_every,
                            n_eval=n_eval).items():
        check_positive_int(name, value)
    n_updates = n_sequences if n_updates is None else check_positive_int("n_updates", n_updates)
    for regime in regimes:
        if regime not in REGIMES:
            raise ValueError(f"unknown regime {regime!r}; expected one of {REGIMES}")
    for lag in lags:
        tasks.delayed_recall_info(T, lag, V)
    if not lrs or any(not (lr > 0 and math.isfinite(lr)) for lr in lrs):
        raise ValueError(f"lrs must be finite numbers > 0; got {list(lrs)}")
    settings = [(method, *check_setting(method, k1, k2)) for method, k1, k2 in settings]
    from bptt_bench.experiments import batched  # JAX is imported only when training

    seeds, lrs = list(seeds), [float(lr) for lr in lrs]
    grid = [(lag, index, lr) for lag in lags for index in range(len(seeds)) for lr in lrs]
    lag_r, seed_index, lr_r = (np.array(column) for column in zip(*grid))
    inits = [init_params(V, H, V, dtype, seed=seed, cell=cell, forget_bias=forget_bias) for seed in seeds]
    params = {key: np.stack([inits[i][key] for i in seed_index]) for key in inits[0]}
    budgets = {  # sequences per (regime, k1)
        (regime, k1): math.ceil(n_updates / updates_per_sequence(T, k1))
        if regime == "online_equal_updates" else n_sequences
        for regime in regimes for _, k1, _ in settings
    }
    symbols = np.stack([_recall_symbols(seed, max(budgets.values()), T, B, V) for seed in seeds], axis=1)
    held_out = {
        split: np.stack([_held_out_symbols(seed, split, T, n_eval, V) for seed in seeds])
        for split in ("validation", "test")
    }
    info = tasks.delayed_recall_info(T, lags[0], V)
    rows, done = [], {}
    for method, k1, k2 in settings:
        for regime in regimes:
            n_seq = budgets[regime, k1]
            mode = "gradient" if regime == "gradient" or updates_per_sequence(T, k1) == 1 else "online"
            key = (k1, k2, mode, method == "readout_only", n_seq)
            if key not in done:  # one window per sequence: the regimes coincide
                done[key] = list(
                    batched.train_replicas(
                        params, lr_r, seed_index, lag_r, symbols[:n_seq], held_out, V=V, k1=k1,
                        k2=k2 if method != "readout_only" else k1,  # no recurrence gradient: any k2
                        mode=mode, readout_only=method == "readout_only", clip=clip, eval_every=eval_every,
                        cell=cell,
                    )
                )
            run = dict(cell=cell, forget_bias=forget_bias, regime=regime, method=method, k1=k1, k2=k2, T=T, V=V,
                       B=B, H=H, dtype=str(np.dtype(dtype)), clip=clip, n_eval=n_eval,
                       chance_accuracy=info.chance_accuracy, baseline_loss=info.baseline_loss)
            rows += _rows(done[key], run, lag_r, [seeds[i] for i in seed_index], lr_r)
    return analysis.mark_chosen_lr(rows)


def _rows(evaluations, run: dict, lags, seeds, lrs) -> list[dict]:
    """One row per replica per evaluation point, up to (and including) its divergence."""
    rows = []
    for r, (lag, seed, lr) in enumerate(zip(lags, seeds, lrs)):
        for point in evaluations:
            alive = bool(point.alive[r])
            scores = {
                f"{prefix}_{metric}": float(values[r]) if alive else math.nan
                for split, prefix in (("validation", "val"), ("test", "test"))
                for metric, values in zip(("loss", "accuracy"), point.scores[split])
            }
            rows.append(
                run | dict(lag=int(lag), seed=int(seed), lr=float(lr), sequences_seen=point.sequences_seen,
                           update=int(point.updates[r] if alive else point.diverged_at[r]), wall_s=point.wall_s,
                           status="ok" if alive else "diverged") | scores
            )
            if not alive:
                break
    return rows
