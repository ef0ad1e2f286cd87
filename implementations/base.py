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
from typing import Any

import numpy as np

from .contract import Problem, check_method, check_problem, check_training
from .schedule import Update, bptt_schedule, carry_offsets, tbptt_schedule

Params = dict[str, Any]  # framework-native arrays keyed like PARAM_NAMES


class Implementation(abc.ABC):
    """One framework's BPTT/TBPTT. Subclasses implement the abstract methods only."""

    name: str

    # -- what a framework supplies ------------------------------------------------

    @abc.abstractmethod
    def to_native(self, params: dict[str, np.ndarray]) -> Params:
        """NumPy parameters -> framework arrays (same dtype)."""

    @abc.abstractmethod
    def to_numpy(self, params: Params) -> dict[str, np.ndarray]:
        """Framework arrays -> NumPy parameters."""

    @abc.abstractmethod
    def window(self, params: Params, state, x, y, mask, loss: str, n_frozen: int, carry_at: int | None):
        """Loss and gradient of one window of n steps.

        state: (B, H) native state before the window, or None for h_0 = 0.
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

    # -- the contract -------------------------------------------------------------

    def loss_and_grad(self, params, x, y, mask, method="bptt", loss="ce", k1=None, k2=None):
        """Loss L and gradient (BPTT), or the TBPTT gradient G = sum_j g_j (gradient mode).

        params: W_xh (D,H), W_hh (H,H), b_h (H,), W_hy (H,O), b_y (O,); x (T,B,D);
        y (T,B) class ids for 'ce' or (T,B,O) for 'mse'; mask (T,B) of 0/1.
        Returns (float, dict of NumPy arrays in x's dtype).
        """
        truncation = check_method(method, k1, k2)
        problem = check_problem(params, x, y, mask, loss)
        updates = bptt_schedule(problem.T) if truncation is None else tbptt_schedule(problem.T, *truncation)
        total: Params = {}

        def accumulate(theta: Params, grads: Params) -> Params:
            for key, grad in grads.items():
                total[key] = total[key] + grad if key in total else grad
            return theta

        with self.precision(problem.dtype):
            losses, _ = self._sweep(self.to_native(problem.params), problem, updates, accumulate)
            return math.fsum(losses), self.to_numpy(total)

    def train_tbptt(self, params, x, y, mask, k1, k2, lr, clip=None, loss="ce"):
        """Online TBPTT(k1, k2): SGD on each segment's gradient g_j, in sequence order.

        Returns (losses, new_params): the segment losses L_j as computed at update j,
        and the parameters after the last update (NumPy, x's dtype).
        """
        truncation = check_method("tbptt", k1, k2)
        lr, clip = check_training(lr, clip)
        problem = check_problem(params, x, y, mask, loss)

        def sgd(theta: Params, grads: Params) -> Params:
            scale = lr
            if clip is not None:
                norm = math.sqrt(math.fsum(float((g * g).sum()) for g in grads.values()))
                if norm > clip:
                    scale = lr * clip / norm
            return {key: theta[key] - scale * grads[key] for key in theta}

        with self.precision(problem.dtype):
            theta = self.to_native(problem.params)
            losses, theta = self._sweep(theta, problem, tbptt_schedule(problem.T, *truncation), sgd)
            return losses, self.to_numpy(theta)

    def _sweep(self, params: Params, problem: Problem, updates: list[Update], after_update):
        """Run the windows in order, carrying the state; after_update(params, g_j) -> params."""
        losses, state = [], None
        for update, carry_at in zip(updates, carry_offsets(updates)):
            lo, hi = update.window_start, update.segment_end
            mask = problem.mask[lo:hi].copy()
            mask[: update.segment_start - lo] = 0  # window steps before the segment inject no loss
            loss_j, grads_j, state = self.window(
                params, state, problem.x[lo:hi], problem.y[lo:hi], mask, problem.loss, update.n_frozen, carry_at
            )
            losses.append(float(loss_j))
            params = after_update(params, grads_j)
        return losses, params
