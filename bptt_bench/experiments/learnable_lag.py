"""Experiment 1: which lags can each truncation learn? Delayed recall, one run per (lag, setting, seed).

The claim under test: TBPTT(k1, k2) has difficulty learning dependencies longer than
its truncation. A target at position i of a segment gets k2 - k1 + i steps of
backpropagation, so with lag L only k2 - k1 + i > L gives the recurrence a gradient
path from the target back to the symbol it needs.
"""

from __future__ import annotations

from bptt_bench.experiments.training import train

# (method, k1, k2): detach every 4, overlapping windows TBPTT(4, 8) and TBPTT(8, 16), full BPTT.
SETTINGS = (("tbptt", 4, 4), ("tbptt", 4, 8), ("tbptt", 8, 16), ("bptt", None, None))


def learnable_lag(
    impl: str = "numpy",
    lags=(2, 4, 6, 8, 12, 16),
    settings=SETTINGS,
    seeds=(0, 1, 2),
    T: int = 32,
    V: int = 4,
    H: int = 32,
    B: int = 16,
    n_sequences: int = 2000,
    lr: float = 0.01,
    clip: float | None = None,
    eval_every: int = 250,
    n_eval: int = 256,
    dtype: str = "float32",
    cell: str = "rnn_tanh",
    forget_bias: float = 0.0,
) -> list[dict]:
    """Training rows (TRAINING_COLUMNS) of every (lag, setting, seed) on delayed recall (T, lag, V).

    Every run sees n_sequences sequences of B; within a seed all settings share the
    initial parameters and the data. The final held-out accuracy of a run is its last
    row (`training.final_rows`); chance is 1/V. cell, forget_bias: the recurrent cell and its
    initial forget-gate bias (lstm only).
    """
    run = dict(impl=impl, H=H, B=B, n_sequences=n_sequences, lr=lr, clip=clip, eval_every=eval_every,
               n_eval=n_eval, dtype=dtype, cell=cell, forget_bias=forget_bias)
    return [
        row
        for lag in lags
        for method, k1, k2 in settings
        for seed in seeds
        for row in train(task="delayed_recall", task_params=dict(T=T, lag=lag, V=V), method=method, k1=k1, k2=k2,
                         seed=seed, **run)
    ]
