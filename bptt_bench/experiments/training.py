"""Online training on fresh sequences of a task, evaluated on a fixed held-out batch.

Each sequence is one call of `impl.train_tbptt`: ceil(T/k1) SGD updates, one per
segment. Full BPTT is TBPTT(T, T), one update per sequence (equal to BPTT by the
contract); its rows say method 'bptt' with k1 and k2 empty. Every `eval_every`
sequences the NumPy implementation's forward scores the held-out batch. A non-finite loss or
parameter ends the run: its last row says 'diverged' at the update where it happened,
and the rows before it are kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np

import implementations
from bptt_bench import tasks
from bptt_bench.problems import init_params
from implementations.contract import check_method, check_positive_int

# The columns that tell one training run from another in a table.
RUN = ["impl", "task", "cell", "forget_bias", "method", "k1", "k2", "lag", "T", "B", "H", "dtype", "lr", "clip", "seed"]


class Progress(NamedTuple):
    """The state of an online run after a sequence; params are the last finite ones."""

    sequences_seen: int
    updates: int  # SGD updates so far; when diverged, the update that produced NaN/Inf
    wall_s: float  # seconds spent in train_tbptt so far
    params: dict[str, np.ndarray]
    diverged: bool


def truncation(method: str, k1, k2, T: int) -> tuple[int, int]:
    """(k1, k2) for train_tbptt: BPTT is TBPTT(T, T)."""
    return (T, T) if check_method(method, k1, k2) is None else (k1, k2)


def online_sgd(
    impl, params, batches: Iterable, k1: int, k2: int, lr: float, clip, loss: str, cell: str = "rnn_tanh"
) -> Iterator[Progress]:
    """Run TBPTT(k1, k2) training on each (x, y, mask) of `batches` in turn; yield after each.

    Stops after yielding a diverged Progress: a segment loss or a parameter became NaN/Inf.
    """
    updates, wall_s = 0, 0.0
    for sequences_seen, (x, y, mask) in enumerate(batches, start=1):
        start = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            losses, new_params = impl.train_tbptt(
                params, x, y, mask, k1=k1, k2=k2, lr=lr, clip=clip, loss=loss, cell=cell
            )
        wall_s += time.perf_counter() - start
        finite = np.isfinite(losses)
        if not finite.all():
            yield Progress(sequences_seen, updates + int(np.argmin(finite)) + 1, wall_s, params, True)
            return
        updates += len(losses)
        if not all(np.isfinite(value).all() for value in new_params.values()):
            yield Progress(sequences_seen, updates, wall_s, params, True)
            return
        params = new_params
        yield Progress(sequences_seen, updates, wall_s, params, False)


def evaluate(params, x, y, mask, loss: str, impl: str = "numpy", cell: str = "rnn_tanh") -> tuple[float, float]:
    """(loss per target step, accuracy) of params of `cell` on x (T,B,D), y, mask (T,B), by `impl`'s forward.

    'ce': masked mean cross-entropy in nats, and the fraction of target steps whose
    arg-max logit is the target. 'mse': masked mean of the plain squared error
    ||o - y||^2 (no 1/2, unlike the training loss), comparable with the adding
    problem's 1/6 baseline; accuracy NaN. (Implementation.evaluate.)
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return implementations.load(impl).evaluate(params, x, y, mask, loss, cell=cell)


def train(
    impl: str = "numpy",
    task: str = "delayed_recall",
    task_params: dict | None = None,
    method: str = "bptt",
    k1: int | None = None,
    k2: int | None = None,
    seed: int = 0,
    H: int = 32,
    B: int = 16,
    n_sequences: int = 300,
    lr: float = 0.05,
    clip: float | None = None,
    eval_every: int = 25,
    n_eval: int = 256,
    dtype: str = "float32",
    cell: str = "rnn_tanh",
    forget_bias: float = 0.0,
) -> list[dict]:
    """Train one run; rows (TRAINING_COLUMNS) at sequence 0, every eval_every sequences and at the end.

    task_params: the task's parameters (e.g. {'T': 32, 'lag': 8}). seed fixes the
    initial parameters, the training sequences and the held-out batch (n_eval
    sequences), so settings with one seed see the same data. loss and accuracy are
    held-out (see `evaluate`); wall_s counts training calls only, not evaluation;
    update counts SGD updates (ceil(T/k1) per sequence). clip: global-norm clip of
    every g_j, None = off (an empty cell). cell: the recurrent cell; forget_bias: its
    initial forget-gate bias (lstm only, problems.init_params).
    """
    task_params = dict(task_params or {})
    spec = tasks.info(task, **task_params)
    k1_run, k2_run = truncation(method, k1, k2, spec.T)
    check_positive_int("n_sequences", n_sequences)
    check_positive_int("eval_every", eval_every)
    stream = [seed, 1]  # data stream; init_params draws from `seed` itself
    held_out = tasks.make(task, n_eval, stream, dtype, held_out=True, **task_params)
    params = init_params(spec.D, H, spec.O, dtype, seed=seed, cell=cell, forget_bias=forget_bias)
    rng = np.random.default_rng(stream)
    batches = (tasks.make(task, B, rng, dtype, **task_params) for _ in range(n_sequences))
    implementation = implementations.load(impl)

    def row(progress: Progress, loss: float, accuracy: float, status: str) -> dict:
        return dict(
            impl=impl,
            task=task,
            cell=cell,
            forget_bias=forget_bias,
            method=method,
            k1=k1,
            k2=k2,
            seed=seed,
            update=progress.updates,
            sequences_seen=progress.sequences_seen,
            wall_s=progress.wall_s,
            loss=loss,
            accuracy=accuracy,
            lag=spec.lag,
            T=spec.T,
            B=B,
            H=H,
            D=spec.D,
            O=spec.O,
            dtype=str(np.dtype(dtype)),
            lr=lr,
            clip=clip,
            status=status,
            baseline_loss=spec.baseline_loss,
            chance_accuracy=spec.chance_accuracy,
        )

    rows = [row(Progress(0, 0, 0.0, params, False), *evaluate(params, *held_out, spec.loss, cell=cell), "ok")]
    for progress in online_sgd(implementation, params, batches, k1_run, k2_run, lr, clip, spec.loss, cell):
        if progress.diverged:
            rows.append(row(progress, math.nan, math.nan, "diverged"))
            break
        if progress.sequences_seen % eval_every and progress.sequences_seen != n_sequences:
            continue
        loss, accuracy = evaluate(progress.params, *held_out, spec.loss, cell=cell)
        rows.append(row(progress, loss, accuracy, "ok" if math.isfinite(loss) else "diverged"))
        if not math.isfinite(loss):
            break
    return rows


def final_rows(table):
    """The last row of every run (the RUN columns) of a training table."""
    return table.sort_values("sequences_seen", kind="stable").groupby(RUN, dropna=False, sort=False).tail(1)
