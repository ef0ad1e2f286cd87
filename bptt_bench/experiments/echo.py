"""The echo task: what TBPTT(k, k) can learn, against exact reference levels.

x_t ~ Bernoulli(0.5), P(y_t = 1) = 0.5 + 0.5 x_{t-3} - 0.25 x_{t-8} (R2RT, 2016). The
best expected cross-entropy is 0.6616 nats knowing neither lag, 0.5192 knowing lag 3,
0.45445 knowing both (`tasks.echo_levels`). With TBPTT(k, k) the loss at position i of a
segment reaches back i steps, so lag L has a gradient path only when k >= L + 1: the
final loss should sit on the level of the lags below k.
"""

from __future__ import annotations

from collections.abc import Sequence

from bptt_bench.experiments.training import train
from bptt_bench.tasks import ECHO_LAGS

KS = (2, 3, 4, 5, 8, 9, 10, 16)


def expected_level(k: int) -> str:
    """The echo level ('none', 'lag3', 'both') TBPTT(k, k) can reach: lag L has a gradient path only if k >= L + 1."""
    return ("none", "lag3", "both")[sum(k >= lag + 1 for lag in ECHO_LAGS)]


def echo(
    impl: str = "numpy",
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
    """
    run = dict(impl=impl, task="echo", task_params={"T": T}, B=B, n_sequences=n_sequences, lr=lr,
               clip=clip, eval_every=eval_every, n_eval=n_eval, dtype=dtype)
    return [
        row
        for size in ([H] if isinstance(H, int) else H)
        for k in ks
        for seed in seeds
        for row in train(method="tbptt", k1=k, k2=k, seed=seed, H=size, **run)
    ]
