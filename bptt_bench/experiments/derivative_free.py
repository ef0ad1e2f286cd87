"""BPTT-SGD against derivative-free optimisers on the same small task, at equal wall-clock budget.

The claim under test: BPTT trains RNNs much faster than general-purpose optimisation.
Every optimiser minimises the same objective, the mean cross-entropy per target of a
fixed training set of the echo task, from the same initial parameters, for the same
number of seconds of its own computation; its curve is the held-out loss of its current
parameters against those seconds (evaluation time not counted).

- `bptt_sgd`: full BPTT gradients (`train_tbptt(T, T)`), SGD on minibatches cycling
  through the training set;
- `powell`: SciPy's Powell (derivative-free line searches) on the flattened parameters;
- `es`: an antithetic evolution strategy (Salimans et al. 2017 style; Gaussian
  perturbations, rank-free mean of loss differences) with plain gradient steps.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import minimize

import implementations
from bptt_bench import tasks
from bptt_bench.experiments.training import evaluate
from bptt_bench.problems import init_params
from implementations.contract import PARAM_NAMES, check_choice, check_positive_int

OPTIMIZERS = ("bptt_sgd", "powell", "es")
COLUMNS = ["optimizer", "seed", "wall_s", "evaluations", "loss", "budget_s", "task", "T", "H",
           "n_params", "baseline_loss"]


class _OutOfTime(Exception):
    pass


class _Recorder:
    """Counts optimiser time only; every `every_s` of it, scores the current parameters held-out."""

    def __init__(self, budget_s: float, every_s: float, score):
        self.budget_s, self.every_s, self.score = budget_s, every_s, score
        self.spent, self.next_at, self.evaluations, self.rows = 0.0, 0.0, 0, []
        self._start = None

    def resume(self):
        self._start = time.perf_counter()

    def pause(self):
        self.spent += time.perf_counter() - self._start

    def checkpoint(self, vector):
        """Called with the optimiser's current point; raises _OutOfTime once the budget is spent."""
        self.pause()
        if self.spent >= self.next_at or self.spent >= self.budget_s:
            self.rows.append((self.spent, self.evaluations, self.score(vector)))
            self.next_at = self.spent + self.every_s
        if self.spent >= self.budget_s:
            raise _OutOfTime
        self.resume()


def _flat(params):
    return np.concatenate([params[name].ravel() for name in PARAM_NAMES])


def _unflat(vector, like):
    out, start = {}, 0
    for name in PARAM_NAMES:
        size = like[name].size
        out[name] = vector[start : start + size].reshape(like[name].shape).astype(like[name].dtype)
        start += size
    return out


def derivative_free(
    optimizers=OPTIMIZERS,
    seeds=(0, 1),
    budget_s: float = 3.0,
    every_s: float = 0.1,
    T: int = 32,
    H: int = 4,
    n_train: int = 64,
    batch: int = 16,
    n_eval: int = 256,
    lr: float = 0.1,
    es_sigma: float = 0.05,
    es_pairs: int = 8,
    es_lr: float = 0.05,
) -> list[dict]:
    """Rows (COLUMNS): held-out loss against optimiser seconds, per optimiser and seed (float64, NumPy)."""
    for name in optimizers:
        check_choice("optimizer", name, OPTIMIZERS)
    check_positive_int("n_train", n_train)
    check_positive_int("batch", batch)
    if not budget_s > 0 or not every_s > 0:
        raise ValueError(f"budget_s and every_s must be > 0; got {budget_s}, {every_s}")
    spec = tasks.info("echo", T=T)
    numpy_impl = implementations.load("numpy")
    rows = []
    for seed in seeds:
        train_set = tasks.make("echo", n_train, [seed, 1], "float64", T=T)
        held_out = tasks.make("echo", n_eval, [seed, 1], "float64", held_out=True, T=T)
        start = init_params(spec.D, H, spec.O, "float64", seed=seed)

        def train_loss(vector):  # the objective of the derivative-free optimisers
            return evaluate(_unflat(vector, start), *train_set, "ce")[0]

        def held_out_loss(vector):
            return evaluate(_unflat(vector, start), *held_out, "ce")[0]

        for name in optimizers:
            recorder = _Recorder(budget_s, every_s, held_out_loss)
            recorder.resume()
            try:
                _RUNNERS[name](recorder, start, train_set, train_loss, numpy_impl, T=T, batch=batch, lr=lr,
                               sigma=es_sigma, pairs=es_pairs, es_lr=es_lr, seed=seed)
            except _OutOfTime:
                pass
            rows += [
                dict(optimizer=name, seed=seed, wall_s=spent, evaluations=evaluations, loss=loss, budget_s=budget_s, task="echo", T=T, H=H, n_params=_flat(start).size,
                     baseline_loss=spec.baseline_loss)
                for spent, evaluations, loss in recorder.rows
            ]
    return rows


def _bptt_sgd(recorder, start, train_set, train_loss, impl, T, batch, lr, **_):
    x, y, mask = train_set
    params, n = start, x.shape[1]
    recorder.checkpoint(_flat(params))
    while True:
        for first in range(0, n - batch + 1, batch):
            part = slice(first, first + batch)
            _, params = impl.train_tbptt(params, x[:, part], y[:, part], mask[:, part], k1=T, k2=T, lr=lr)
            recorder.evaluations += 1  # one gradient evaluation (forward + backward) per update
            recorder.checkpoint(_flat(params))


def _powell(recorder, start, train_set, train_loss, impl, **_):
    def objective(vector):
        value = train_loss(vector)
        recorder.evaluations += 1
        if value < best.get("f", np.inf):
            best.update(x=vector.copy(), f=value)
        recorder.checkpoint(best["x"])  # Powell's answer so far is its best point
        return value

    best: dict = {}
    while True:  # restart from the best point if Powell converges inside the budget
        minimize(objective, best.get("x", _flat(start)), method="Powell", options={"xtol": 1e-6, "ftol": 1e-9})


def _es(recorder, start, train_set, train_loss, impl, sigma, pairs, es_lr, seed, **_):
    rng = np.random.default_rng([seed, 3])
    theta = _flat(start)
    recorder.checkpoint(theta)
    while True:
        noise = rng.standard_normal((pairs, theta.size))
        diffs = np.array([train_loss(theta + sigma * e) - train_loss(theta - sigma * e) for e in noise])
        recorder.evaluations += 2 * pairs
        theta = theta - es_lr * (diffs[:, None] * noise).sum(axis=0) / (2 * sigma * pairs)
        recorder.checkpoint(theta)


_RUNNERS = {"bptt_sgd": _bptt_sgd, "powell": _powell, "es": _es}
