"""Experiment 3: how far is the TBPTT(k1, k2) gradient from the BPTT gradient?

Gradient mode (parameters fixed for the whole sequence), all parameters flattened into
one vector: cosine similarity and relative error ||G_tbptt - G_bptt|| / ||G_bptt||, per
batch, at initialisation and after partial BPTT training. k2 >= T must give cosine 1 and
relative error 0 to rounding (the contract's identity).

The partial training always runs in NumPy, so that every framework is measured at the
same parameters: SGD trajectories are chaotic enough that rounding alone separates the
frameworks' own training runs (float64, the default sizes: relative parameter
difference 6e-16 after 100 sequences, 5e-6 after 300, 0.18 after 500).
"""

from __future__ import annotations

import numpy as np

import implementations
from bptt_bench import tasks
from bptt_bench.experiments.training import online_sgd
from bptt_bench.problems import init_params, random_problem
from implementations.contract import check_positive_int

TRUNCATIONS = tuple((k1, k2) for k1 in (1, 4, 16) for k2 in (1, 2, 4, 8, 16, 32))


def flatten(grads: dict) -> np.ndarray:
    """All parameters' gradients as one float64 vector, in sorted name order."""
    return np.concatenate([np.asarray(grads[name], np.float64).ravel() for name in sorted(grads)])


def agreement(full: np.ndarray, other: np.ndarray) -> dict:
    """Cosine similarity and relative error ||other - full|| / ||full|| of two flattened gradients."""
    tiny = np.finfo(np.float64).tiny
    norm_full, norm_other = np.linalg.norm(full), np.linalg.norm(other)
    return dict(
        cosine=float(full @ other / max(norm_full * norm_other, tiny)),
        relative_error=float(np.linalg.norm(other - full) / max(norm_full, tiny)),
    )


def errors_against_bptt(
    settings, T: int, B: int, D: int, H: int, O: int, impl: str = "numpy", dtype: str = "float64", seed: int = 0
) -> list[dict]:
    """Each setting's gradient against BPTT's on the benchmark cells' random problem (problems.random_problem,
    'ce', same seed): rows of method, k1, k2, segment, cell, cosine, relative_error, T, B, D, H, O, impl, dtype.

    settings: mappings with method ('bptt', 'tbptt', 'checkpointed'), k1, k2, segment and optionally cell
    (default the Elman cell). Checkpointed BPTT is
    computed, not assumed exact: its error is what rounding leaves.
    """
    implementation = implementations.load(impl)
    problems, rows = {}, []  # per recurrent cell: its problem and BPTT's gradient there
    for setting in settings:
        method, k1, k2, segment = (setting.get(name) for name in ("method", "k1", "k2", "segment"))
        cell = setting.get("cell") or "rnn_tanh"
        if cell not in problems:
            params, x, y, mask = random_problem(T, B, D, H, O, dtype, seed=seed, cell=cell)
            _, grads = implementation.loss_and_grad(params, x, y, mask, method="bptt", cell=cell)
            problems[cell] = (params, x, y, mask), flatten(grads)
        (params, x, y, mask), full = problems[cell]
        _, grads = implementation.loss_and_grad(params, x, y, mask, method, "ce", k1, k2, segment, cell=cell)
        rows.append(
            dict(method=method, k1=k1, k2=k2, segment=segment, cell=cell, **agreement(full, flatten(grads)),
                 T=T, B=B, D=D, H=H, O=O, impl=impl, dtype=str(np.dtype(dtype)))
        )
    return rows


def gradient_bias(
    impl: str = "numpy",
    task: str = "delayed_recall",
    task_params: dict | None = None,
    truncations=TRUNCATIONS,
    n_batches: int = 8,
    n_train: int = 500,
    H: int = 32,
    B: int = 32,
    lr: float = 0.01,
    seed: int = 0,
    dtype: str = "float64",
    cell: str = "rnn_tanh",
    forget_bias: float = 0.0,
) -> list[dict]:
    """Rows (GRADIENT_BIAS_COLUMNS) per state ('init', 'trained'), (k1, k2) and batch.

    task_params default: delayed recall {'T': 32, 'lag': 8, 'V': 4}. 'trained' is
    n_train sequences of online BPTT (SGD, lr) in NumPy from the 'init' parameters;
    sequences_seen says how many ran (fewer if training diverged). The gradients are
    `impl`'s, on n_batches batches of B sequences shared by both states and every
    truncation. float64 by default, so that frameworks agree to ~1e-15 and the numbers
    are the bias alone. cell, forget_bias: the recurrent cell and its initial forget-gate
    bias (lstm only).
    """
    task_params = {"T": 32, "lag": 8, "V": 4} if task_params is None else dict(task_params)
    spec = tasks.info(task, **task_params)
    check_positive_int("n_batches", n_batches)
    check_positive_int("n_train", n_train)
    implementation = implementations.load(impl)
    params = init_params(spec.D, H, spec.O, dtype, seed=seed, cell=cell, forget_bias=forget_bias)
    training_rng = np.random.default_rng([seed, 1])
    training = (tasks.make(task, B, training_rng, dtype, **task_params) for _ in range(n_train))
    *_, progress = online_sgd(
        implementations.load("numpy"), params, training, spec.T, spec.T, lr, None, spec.loss, cell
    )
    states = {"init": (params, 0), "trained": (progress.params, progress.sequences_seen)}
    batch_rng = np.random.default_rng([seed, 2])
    batches = [tasks.make(task, B, batch_rng, dtype, **task_params) for _ in range(n_batches)]

    rows = []
    for state, (theta, sequences_seen) in states.items():
        for batch, (x, y, mask) in enumerate(batches):
            _, grads = implementation.loss_and_grad(theta, x, y, mask, method="bptt", loss=spec.loss, cell=cell)
            full = flatten(grads)
            for k1, k2 in truncations:
                _, grads = implementation.loss_and_grad(theta, x, y, mask, "tbptt", spec.loss, k1, k2, cell=cell)
                truncated = flatten(grads)
                rows.append(
                    dict(
                        impl=impl,
                        task=task,
                        cell=cell,
                        forget_bias=forget_bias,
                        state=state,
                        sequences_seen=sequences_seen,
                        k1=k1,
                        k2=k2,
                        batch=batch,
                        **agreement(full, truncated),
                        bptt_grad_norm=float(np.linalg.norm(full)),
                        tbptt_grad_norm=float(np.linalg.norm(truncated)),
                        lag=spec.lag,
                        T=spec.T,
                        B=B,
                        H=H,
                        seed=seed,
                        dtype=str(np.dtype(dtype)),
                    )
                )
    return rows
