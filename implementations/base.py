"""The shared contract: BPTT and TBPTT(k1, k2) driven once, for every framework.

A framework subclasses `Implementation` and supplies only arithmetic: converting
parameters, and `window`, the loss and gradient of one window of the recurrence.
Checking inputs, the schedule, accumulating gradients (gradient mode) and SGD with
clipping (training mode) live here, so the three frameworks cannot disagree on them.
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .contract import Problem, check_method, check_problem, check_training
from .schedule import Update, bptt_schedule, tbptt_schedule, with_carry_offsets

Params = dict[str, Any]  # framework-native arrays keyed like PARAM_NAMES


class Implementation(abc.ABC):
    """One framework's BPTT/TBPTT. Subclasses implement the abstract methods only."""

    name: str
    compiles = False  # True where the first call of a new shape compiles (recorded as compile_s)

    # -- what a framework supplies ------------------------------------------------

    @abc.abstractmethod
    def to_native(self, params: dict[str, np.ndarray]) -> Params:
        """NumPy parameters -> framework arrays (same dtype)."""

    @abc.abstractmethod
    def to_numpy(self, params: Params) -> dict[str, np.ndarray]:
        """Framework arrays -> NumPy parameters."""

    @abc.abstractmethod
    def window(self, params: Params, state, x, y, mask, loss: str, n_frozen: int, carry_at: int | None,
               cell: str = "rnn_tanh"):
        """Loss and gradient of one window of n steps of `cell`.

        state: native state before the window ((B, H); a pair (h, c) for the LSTM), or
        None for the zero state.
        x: (n, B, D), y: (n, B) or (n, B, O), mask: (n, B) NumPy slices; the mask is
        already zero at steps that inject no loss. The first n_frozen steps are run
        forward only: their states are constants, so their losses reach W_hy and b_y
        but not the recurrence. Returns (loss, grads, carried) where carried is the
        native state after carry_at steps (carry_at is 0 or > n_frozen), or None when
        carry_at is None.
        """

    def precision(self, dtype: np.dtype) -> contextlib.AbstractContextManager:
        """Context in which a whole call runs (JAX switches float64 on here)."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    def measure_peak_bytes(self, run, inputs=()) -> tuple[Any, int]:
        """(run(), peak bytes of the working memory run() allocates), by the framework's own
        bookkeeping; parameters and the arrays in `inputs` are not counted."""

    def set_threads(self, threads: int) -> None:
        """Limit the framework's own thread pool (the caller also sets environment and affinity)."""

    def backend_info(self) -> str:
        """The library doing the arithmetic, for provenance."""
        return ""

    # -- the contract -------------------------------------------------------------

    def loss_and_grad(self, params, x, y, mask, method="bptt", loss="ce", k1=None, k2=None, cell="rnn_tanh"):
        """Loss L and gradient (BPTT), or the TBPTT gradient G = sum_j g_j (gradient mode).

        params (rnn_tanh): W_xh (D,H), W_hh (H,H), b_h (H,), W_hy (H,O), b_y (O,); for
        cell 'lstm' / 'gru' see contract.param_shapes (gates stacked, 4H / 3H); x (T,B,D);
        y (T,B) class ids for 'ce' or (T,B,O) for 'mse'; mask (T,B) of 0/1.
        Returns (float, dict of NumPy arrays in x's dtype).
        """
        truncation = check_method(method, k1, k2)
        problem = check_problem(params, x, y, mask, loss, cell)
        updates = bptt_schedule(problem.T) if truncation is None else tbptt_schedule(problem.T, *truncation)
        totals: Params = {}
        total_loss = 0.0

        def accumulate(theta: Params, loss_j: float, grads: Params) -> Params:
            nonlocal total_loss
            total_loss += loss_j
            for key, grad in grads.items():
                totals[key] = totals[key] + grad if key in totals else grad
            return theta

        with self.precision(problem.dtype):
            self._sweep(self.to_native(problem.params), problem, updates, accumulate)
            return total_loss, self.to_numpy(totals)

    def train_tbptt(self, params, x, y, mask, k1, k2, lr, clip=None, loss="ce", cell="rnn_tanh"):
        """Online TBPTT(k1, k2): SGD on each segment's gradient g_j, in sequence order.

        Returns (losses, new_params): the segment losses L_j as computed at update j,
        and the parameters after the last update (NumPy, x's dtype).
        """
        truncation = check_method("tbptt", k1, k2)
        lr, clip = check_training(lr, clip)
        problem = check_problem(params, x, y, mask, loss, cell)

        losses: list[float] = []

        def sgd(theta: Params, loss_j: float, grads: Params) -> Params:
            losses.append(loss_j)
            scale = lr
            if clip is not None:
                norm = math.sqrt(math.fsum(float((g * g).sum()) for g in grads.values()))
                if norm > clip:
                    scale = lr * clip / norm
            return {key: theta[key] - scale * grads[key] for key in theta}

        with self.precision(problem.dtype):
            theta = self.to_native(problem.params)
            theta = self._sweep(theta, problem, tbptt_schedule(problem.T, *truncation), sgd)
            return losses, self.to_numpy(theta)

    def _sweep(self, params: Params, problem: Problem, updates: Iterable[Update], after_update):
        """Run the windows in order, carrying the state; after_update(params, L_j, g_j) -> params.

        Nothing kept grows with T: one window's arrays and the carried state.
        """
        state = None
        for update, carry_at in with_carry_offsets(updates):
            lo, hi = update.window_start, update.segment_end
            mask = problem.mask[lo:hi].astype(problem.dtype)  # a copy, in the compute dtype
            mask[: update.segment_start - lo] = 0  # window steps before the segment inject no loss
            loss_j, grads_j, state = self.window(
                params, state, problem.x[lo:hi], problem.y[lo:hi], mask, problem.loss, update.n_frozen, carry_at,
                problem.cell,
            )
            params = after_update(params, float(loss_j), grads_j)
        return params
