"""The shared driver: BPTT and TBPTT(k1, k2) planned and driven once, for every framework.

A framework subclasses `Implementation` and supplies only arithmetic (the primitives
below): states of a chunk without a graph, readout gradients of a chunk, and the loss
and gradient of steps run from a constant state. The window plan (plan.py), checking
inputs, adding the pieces up, and SGD with clipping live here, so the frameworks cannot
disagree on them. A state is whatever the framework makes of it (an array, a pair for
a cell with two states): the driver only hands it back.

Nothing crosses to the host per window: losses, gradients, parameters and the clip norm
stay framework values until the sequence ends.
"""

from __future__ import annotations

import abc
import contextlib
from typing import Any

import numpy as np

from .contract import Problem, check_device, check_method, check_problem, check_training, default_segment
from .plan import Window, plan

Params = dict[str, Any]  # framework-native arrays keyed like contract.param_names(cell)
READOUT = ("W_hy", "b_y")


class Implementation(abc.ABC):
    """One framework's BPTT/TBPTT. Subclasses implement the abstract methods only."""

    name: str
    devices: tuple[str, ...] = ("cpu",)  # where it can run; "cuda" also needs a visible device
    compiles = False  # True where the first call of a new shape compiles (recorded as compile_s)

    # -- what a framework supplies ------------------------------------------------

    @abc.abstractmethod
    def to_native(self, params: dict[str, np.ndarray]) -> Params:
        """NumPy parameters -> framework arrays (same dtype)."""

    @abc.abstractmethod
    def to_numpy(self, params: Params) -> dict[str, np.ndarray]:
        """Framework arrays -> NumPy parameters."""

    @abc.abstractmethod
    def states(self, params: Params, state, x, cell: str = "rnn_tanh"):
        """Forward only, no graph: (outputs, final state) of n steps of `cell` from `state`.

        state: native state before the steps ((B, H); the pair (h, c) for the LSTM), None
        for the zero state. x: (n, B, D) NumPy. outputs: native (n, B, H), the h_t the
        readout reads.
        """

    @abc.abstractmethod
    def logits(self, params: Params, outputs):
        """Native logits (n, B, O) of outputs (n, B, H), no graph."""

    @abc.abstractmethod
    def readout_grads(self, params: Params, outputs, y, mask, loss: str):
        """(loss, {'W_hy', 'b_y'}) of constant outputs (n, B, H): their losses reach the readout only.

        y: (n, B) or (n, B, O), mask: (n, B) NumPy in the compute dtype. loss native.
        """

    @abc.abstractmethod
    def window_grad(self, params: Params, state, x, y, mask, loss: str, carry_at: int | None,
                    segment: int | None, cell: str = "rnn_tanh"):
        """Loss and gradient of n steps of `cell` run with gradient from the constant `state`.

        x: (n, B, D), y, mask (n, B) NumPy slices (the mask is zero where no loss is
        injected). Returns (loss, grads of every parameter, carried): carried is the
        state after carry_at steps (1 <= carry_at <= n), None when carry_at is None.
        segment: keep the state only every `segment` steps and recompute each segment
        in the backward pass (checkpointed BPTT); None keeps every state.
        """

    @abc.abstractmethod
    def maximum(self, value, bound: float):
        """max(value, bound) of a native scalar, staying native (no host round trip)."""

    def sgd_step(self, params: Params, grads: Params, lr: float, clip: float | None) -> Params:
        """params - lr * grads, the gradient first rescaled to global norm `clip` where its norm
        is larger (clip None: never); computed natively, no host round trip."""
        scale = lr
        if clip is not None:
            norm = sum((g * g).sum() for g in grads.values()) ** 0.5
            scale = lr / self.maximum(norm / clip, 1.0)
        return {key: params[key] - scale * grads[key] for key in params}

    def precision(self, dtype: np.dtype) -> contextlib.AbstractContextManager:
        """Context in which a whole call runs (JAX switches float64 on here)."""
        return contextlib.nullcontext()

    def device_available(self, device: str) -> bool:
        """Whether `device` (one of `devices`) exists on this machine."""
        return device == "cpu"

    def on_device(self, device: str) -> contextlib.AbstractContextManager:
        """Context in which a whole call places its arrays and work on `device`."""
        return contextlib.nullcontext()

    def host(self, value) -> np.ndarray:
        """A native array as a NumPy array in host memory."""
        return np.asarray(value)

    @contextlib.contextmanager
    def _running(self, dtype: np.dtype, device: str):
        with self.precision(dtype), self.on_device(device):
            yield

    @abc.abstractmethod
    def measure_peak_bytes(self, run, inputs=(), device="cpu") -> tuple[Any, int]:
        """(run(), peak bytes of the working memory run() allocates), by the framework's own
        bookkeeping; parameters and the arrays in `inputs` are not counted. `device`: where
        run() runs (a GPU's figure comes from its own allocator where the framework has one)."""

    def set_threads(self, threads: int) -> None:
        """Limit the framework's own thread pool (the caller also sets environment and affinity)."""

    def prepare(self, methods) -> None:
        """Do now what the first call of one of `methods` would otherwise do once per process
        (an import, say), so that a measured cell's time and memory are its method's. The
        measuring process calls this before its first cell."""

    def backend_info(self) -> str:
        """The library doing the arithmetic, for provenance."""
        return ""

    # -- the contract -------------------------------------------------------------

    def loss_and_grad(self, params, x, y, mask, method="bptt", loss="ce", k1=None, k2=None, segment=None,
                      cell="rnn_tanh", device="cpu"):
        """Loss L and gradient (BPTT, checkpointed BPTT), or the TBPTT gradient G = sum_j g_j (gradient mode).

        params (cell 'rnn_tanh'): W_xh (D,H), W_hh (H,H), b_h (H,), W_hy (H,O), b_y (O,);
        cells 'lstm' and 'gru': contract.param_shapes (gates stacked, 4H / 3H); x (T,B,D);
        y (T,B) class ids for 'ce' or (T,B,O) for 'mse'; mask (T,B) of 0/1.
        method 'checkpointed': BPTT's gradient keeping the state every `segment` steps
        (default ceil(sqrt(T))) and recomputing each segment in the backward pass.
        device: 'cpu' or 'cuda' (where the implementation supports it; see `devices`).
        Returns (float, dict of NumPy arrays in x's dtype).
        """
        check_method(method, k1, k2, segment)
        check_device(device, self)
        problem = check_problem(params, x, y, mask, loss, cell)
        totals: Params = {}
        total_loss = []

        def accumulate(theta: Params, loss_j, grads: Params) -> Params:
            total_loss[:] = [total_loss[0] + loss_j] if total_loss else [loss_j]
            for key, grad in grads.items():
                totals[key] = totals[key] + grad if key in totals else grad
            return theta

        with self._running(problem.dtype, device):
            self._sweep(self.to_native(problem.params), problem, _plan(problem.T, method, k1, k2, segment), accumulate)
            return float(total_loss[0]), self.to_numpy(totals)

    def train(self, params, x, y, mask, method="bptt", *, lr, clip=None, loss="ce", k1=None, k2=None,
              segment=None, cell="rnn_tanh", device="cpu"):
        """Training on one sequence: an SGD step after each update, in sequence order.

        bptt and checkpointed: one update (the full gradient); tbptt: online TBPTT(k1, k2),
        one update per segment. Returns (losses, new_params): the loss of each update as
        computed at that update, and the parameters after the last (NumPy, x's dtype).
        """
        check_method(method, k1, k2, segment)
        check_device(device, self)
        lr, clip = check_training(lr, clip)
        problem = check_problem(params, x, y, mask, loss, cell)
        losses = []

        def sgd(theta: Params, loss_j, grads: Params) -> Params:
            losses.append(loss_j)
            return self.sgd_step(theta, grads, lr, clip)

        with self._running(problem.dtype, device):
            windows = _plan(problem.T, method, k1, k2, segment)
            theta = self._sweep(self.to_native(problem.params), problem, windows, sgd)
            return [float(value) for value in losses], self.to_numpy(theta)

    def train_tbptt(self, params, x, y, mask, k1, k2, lr, clip=None, loss="ce", cell="rnn_tanh", device="cpu"):
        """Online TBPTT(k1, k2): SGD on each segment's gradient g_j, in sequence order (see train)."""
        return self.train(params, x, y, mask, "tbptt", lr=lr, clip=clip, loss=loss, k1=k1, k2=k2, cell=cell,
                          device=device)

    def forward(self, params, x, cell="rnn_tanh", device="cpu") -> tuple[np.ndarray, np.ndarray]:
        """States h_1..h_T (T,B,H) and logits (T,B,O) of x (T,B,D) from the zero state, as NumPy."""
        check_device(device, self)
        problem = check_problem(params, x, np.zeros(np.shape(x)[:2], np.int64), np.zeros(np.shape(x)[:2]), cell=cell)
        with self._running(problem.dtype, device):
            theta = self.to_native(problem.params)
            outputs, _ = self.states(theta, None, problem.x, cell)
            return self.host(outputs), self.host(self.logits(theta, outputs))

    def evaluate(self, params, x, y, mask, loss="ce", cell="rnn_tanh", device="cpu") -> tuple[float, float]:
        """(loss per target step, accuracy) of params on x (T,B,D), y, mask (T,B).

        'ce': masked mean cross-entropy in nats, and the fraction of target steps whose
        arg-max logit is the target. 'mse': masked mean of ||o - y||^2 (no 1/2, unlike the
        training loss); accuracy NaN. Both from the framework's own readout.
        """
        check_device(device, self)
        problem = check_problem(params, x, y, mask, loss, cell)
        B, n_targets = problem.x.shape[1], problem.mask.sum()
        with self._running(problem.dtype, device):
            theta = self.to_native(problem.params)
            outputs, _ = self.states(theta, None, problem.x, cell)
            value, _ = self.readout_grads(theta, outputs, problem.y, problem.mask.astype(problem.dtype), loss)
            per_target = float(value) * B / n_targets * (2.0 if loss == "mse" else 1.0)
            if loss == "mse":
                return per_target, float("nan")
            correct = self.host(self.logits(theta, outputs)).argmax(axis=-1) == problem.y
            return per_target, float((correct * problem.mask).sum() / n_targets)

    def _sweep(self, params: Params, problem: Problem, windows, after_update):
        """Run the planned windows in order, carrying the state; after_update(params, L_j, g_j) -> params.

        Nothing kept grows with T: one window's arrays and the carried state.
        """
        state = None
        for window in windows:
            loss_j, grads_j, carried = self._window(params, state, problem, window)
            state = state if window.carry == window.start else carried
            params = after_update(params, loss_j, grads_j)
        return params

    def _window(self, params: Params, state, problem: Problem, window: Window):
        """(L_j, g_j, carried state) of one window: frozen chunks, then the gradient part."""
        lo, hi = window.start, window.end
        mask = problem.mask[lo:hi].astype(problem.dtype)  # a copy, in the compute dtype
        mask[: window.loss_from - lo] = 0  # window steps before the segment inject no loss
        x, y = problem.x, problem.y
        frozen_loss, frozen_grads = 0.0, {}
        for a, b in window.frozen_chunks():
            outputs, state = self.states(params, state, x[a:b], problem.cell)
            value, grads = self.readout_grads(params, outputs, y[a:b], mask[a - lo : b - lo], problem.loss)
            frozen_loss = frozen_loss + value
            frozen_grads = {key: frozen_grads[key] + grads[key] if key in frozen_grads else grads[key] for key in grads}
        g = window.grad_start
        value, grads, carried = self.window_grad(
            params, state, x[g:hi], y[g:hi], mask[g - lo :], problem.loss, window.carry_offset, window.segment,
            problem.cell,
        )
        for key, grad in frozen_grads.items():
            grads[key] = grads[key] + grad
        return frozen_loss + value if frozen_grads else value, grads, carried


def _plan(T: int, method: str, k1, k2, segment):
    """The windows of a checked call; checkpointed BPTT's spacing defaults to ceil(sqrt(T))."""
    if method == "checkpointed" and segment is None:
        segment = default_segment(T)
    return plan(T, method, k1, k2, segment)
