"""Experiment 2: held-out loss against SGD updates and against training seconds, per setting.

BPTT makes one update per sequence, TBPTT(k1, k2) ceil(T/k1) cheaper ones; the curves
show which buys more loss per second. The final losses, joined with the benchmark
table, give the Pareto figure (loss against time per sequence and peak memory).
"""

from __future__ import annotations

from bptt_bench.experiments.training import train

# (method, k1, k2): full BPTT, detach every 5, 10 and 20 steps, and 5-step updates with 20-step windows.
SETTINGS = (("bptt", None, None), ("tbptt", 5, 5), ("tbptt", 10, 10), ("tbptt", 20, 20), ("tbptt", 5, 20))


def loss_curves(
    impl: str = "numpy",
    task: str = "copy_memory",
    task_params: dict | None = None,
    settings=SETTINGS,
    seeds=(0, 1, 2),
    H: int = 64,
    B: int = 32,
    n_sequences: int = 2000,
    lr: float = 0.02,
    clip: float | None = None,
    eval_every: int = 100,
    n_eval: int = 256,
    dtype: str = "float32",
) -> list[dict]:
    """Training rows (TRAINING_COLUMNS) of every (setting, seed) on `task`.

    task_params default: {'blank': 5} for copy memory (T = 25, lag 15), none for
    digits. Every setting sees the same n_sequences sequences of B per seed.
    """
    if task_params is None:
        task_params = {"blank": 5} if task == "copy_memory" else {}
    run = dict(impl=impl, task=task, task_params=task_params, H=H, B=B, n_sequences=n_sequences, lr=lr,
               clip=clip, eval_every=eval_every, n_eval=n_eval, dtype=dtype)
    return [
        row
        for method, k1, k2 in settings
        for seed in seeds
        for row in train(method=method, k1=k1, k2=k2, seed=seed, **run)
    ]
