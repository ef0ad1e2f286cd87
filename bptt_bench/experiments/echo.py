"""The echo task: what TBPTT(k, k) can learn, against exact reference levels.

x_t ~ Bernoulli(0.5), P(y_t = 1) = 0.5 + 0.5 x_{t-3} - 0.25 x_{t-8} (R2RT, 2016). The
best expected cross-entropy is 0.6616 nats knowing neither lag, 0.5192 knowing lag 3,
0.45445 knowing both (`tasks.echo_levels`). With TBPTT(k, k) the loss at position i of a
segment reaches back i steps, so lag L has a gradient path only when k >= L + 1: the
final loss should sit on the level of the lags below k.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bptt_bench import tasks
from bptt_bench.problems import init_params
from bptt_bench.tasks import ECHO_LAGS
from implementations.contract import check_positive_int

KS = (2, 3, 4, 5, 8, 9, 10, 16)


def expected_level(k: int) -> str:
    """The echo level ('none', 'lag3', 'both') TBPTT(k, k) can reach: lag L has a gradient path only if k >= L + 1."""
    return ("none", "lag3", "both")[sum(k >= lag + 1 for lag in ECHO_LAGS)]


def _data(seeds, T: int, B: int, n_sequences: int, n_eval: int, dtype):
    """(training batches (x (n,S,T,B,2), y, mask (n,S,T,B)), held-out (x (S,T,N,2), y, mask (S,T,N))):
    per seed, the streams training.train draws (held-out batch, then the training sequences)."""
    per_seed, held = [], []
    for seed in seeds:
        held.append(tasks.make("echo", n_eval, [seed, 1], dtype, held_out=True, T=T))
        rng = np.random.default_rng([seed, 1])
        per_seed.append([tasks.make("echo", B, rng, dtype, T=T) for _ in range(n_sequences)])
    batches = tuple(np.stack([[batch[i] for batch in run] for run in per_seed], axis=1) for i in range(3))
    return batches, tuple(np.stack([h[i] for h in held]) for i in range(3))


def echo(
    ks=KS,
    seeds=(0, 1, 2),
    T: int = 64,
    H: int | Sequence[int] = 16,
    B: int = 32,
    n_sequences: int = 300,
    lr: float = 0.05,
    clip: float | None = None,
    eval_every: int = 100,
    n_eval: int = 512,
    dtype: str = "float32",
) -> list[dict]:
    """Training rows (TRAINING_COLUMNS) of TBPTT(k, k) on echo (T) for every hidden size H (an int or
    several), k and seed.

    Every k of a seed sees the same initial parameters and sequences. The held-out loss
    (n_eval sequences, T - 8 targets each) of a run's last row is its final loss. Several H
    separate the gradient path from the information path: a state large enough to keep x_{t-8}
    while it learns lag 3 can let the readout use it though no gradient reaches it.

    The seeds of one (H, k) train together in one compiled JAX program (`batched`, impl 'jax'):
    the arithmetic of train_tbptt, so the same runs as training.train's, to rounding; wall_s is
    that program's seconds, all seeds together. A diverged run's last row says 'diverged' at the
    evaluation point after it, with the update that produced NaN/Inf.
    """
    info = tasks.echo_info(T)
    for name, value in dict(B=B, n_sequences=n_sequences, eval_every=eval_every, n_eval=n_eval).items():
        check_positive_int(name, value)
    for k in ks:
        check_positive_int("k", k)
    from bptt_bench.experiments import batched  # JAX is imported only when training

    seeds = list(seeds)
    batches, held_out = _data(seeds, T, B, n_sequences, n_eval, dtype)
    rows = []
    for size in [H] if isinstance(H, int) else H:
        inits = [init_params(info.D, size, info.O, dtype, seed=seed) for seed in seeds]
        params = {key: np.stack([p[key] for p in inits]) for key in inits[0]}
        for k in ks:
            points = batched.train_on_batches(
                params, np.full(len(seeds), lr), np.arange(len(seeds)), batches, {"test": held_out},
                k1=k, k2=k, mode="online", clip=clip, eval_every=eval_every,
            )
            run = dict(impl="jax", task="echo", cell="rnn_tanh", forget_bias=0.0, method="tbptt", k1=k, k2=k,
                       lag=info.lag, T=T, B=B, H=size, D=info.D, O=info.O, dtype=str(np.dtype(dtype)), lr=lr,
                       clip=clip, baseline_loss=info.baseline_loss, chance_accuracy=info.chance_accuracy)
            rows += _rows(list(points), run, seeds)
    return rows


def _rows(points, run: dict, seeds) -> list[dict]:
    """One row per seed per evaluation point, up to (and including) its divergence."""
    rows = []
    for r, seed in enumerate(seeds):
        for point in points:
            alive = bool(point.alive[r])
            loss, accuracy = (float(values[r]) for values in point.scores["test"])
            ok = alive and math.isfinite(loss)
            rows.append(run | dict(
                seed=seed, update=int(point.updates[r] if alive else point.diverged_at[r]),
                sequences_seen=point.sequences_seen, wall_s=point.wall_s, loss=loss if ok else math.nan,
                accuracy=accuracy if ok else math.nan, status="ok" if ok else "diverged",
            ))
            if not ok:
                break
    return rows
