"""NumPy: forward and backward written by hand, no autodiff.

The cells' per-step arithmetic is in numpy_cells (one (B,H)@(H,G*H) matmul and the gate
nonlinearities per step, each way). Everything that does not depend on the previous
step (input projection, readout, weight gradients) is one large matmul over a whole
segment.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import threadpoolctl

from .base import READOUT, Implementation
from .numpy_cells import CELLS, forward_states

__all__ = ["IMPLEMENTATION", "forward_states", "readout"]


def readout(params, S, y, mask, loss, grads):
    """Loss of states S (n,B,H) against y (n,B) ids or (n,B,O), mask (n,B); adds W_hy, b_y grads.

    Returns (loss, dlogits (n*B, O)), both already carrying the 1/B of the loss.
    """
    n, B, H = S.shape
    states, mask = S.reshape(n * B, H), mask.reshape(n * B) / B
    logits = states @ params["W_hy"]
    logits += params["b_y"]
    if loss == "mse":
        dlogits = logits - y.reshape(logits.shape)
        value = 0.5 * np.einsum("no,no,n->", dlogits, dlogits, mask)
    else:
        ids, rows = y.reshape(n * B), np.arange(n * B)
        logits -= logits.max(axis=1, keepdims=True)
        dlogits = np.exp(logits)
        partition = dlogits.sum(axis=1)
        value = np.dot(np.log(partition) - logits[rows, ids], mask)
        dlogits /= partition[:, None]  # softmax
        dlogits[rows, ids] -= 1
    dlogits *= mask[:, None]
    grads["W_hy"] += states.T @ dlogits
    grads["b_y"] += dlogits.sum(axis=0)
    return value, dlogits


class NumpyRNN(Implementation):
    name = "numpy"

    def to_native(self, params):
        return dict(params)

    def to_numpy(self, params):
        return dict(params)

    def maximum(self, value, bound):
        return np.maximum(value, bound)

    def set_threads(self, threads):
        threadpoolctl.threadpool_limits(limits=threads, user_api="blas")

    def backend_info(self):
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        return "; ".join(f"{i['internal_api']} {i['version']} {i.get('architecture', '')}".strip() for i in blas)

    def measure_peak_bytes(self, run, inputs=()):
        """tracemalloc's peak: exact for NumPy buffers; inputs exist before tracing starts."""
        tracemalloc.start()
        try:
            result = run()
            return result, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def states(self, params, state, x, cell="rnn_tanh"):
        arithmetic = CELLS[cell]
        hidden, saved = arithmetic.forward(params, state, x)
        return hidden[1:], arithmetic.state_at(hidden, saved, len(x))

    def logits(self, params, outputs):
        return outputs @ params["W_hy"] + params["b_y"]

    def readout_grads(self, params, outputs, y, mask, loss):
        grads = {key: np.zeros_like(params[key]) for key in READOUT}
        return readout(params, outputs, y, mask, loss, grads)[0], grads

    def window_grad(self, params, state, x, y, mask, loss, carry_at, segment, cell="rnn_tanh"):
        arithmetic = CELLS[cell]
        grads = {key: np.zeros_like(value) for key, value in params.items()}
        n = len(x)
        c = n if segment is None else min(segment, n)
        starts = range(0, n, c)
        # Forward: keep only each segment's starting state (all of them when c == n: BPTT);
        # the last segment's activations are kept whole, so it is never recomputed.
        checkpoints, carried = [state], None
        for lo in starts:
            hidden, saved = arithmetic.forward(params, checkpoints[-1], x[lo : lo + c])
            if carry_at is not None and lo < carry_at <= lo + c:
                carried = arithmetic.state_at(hidden, saved, carry_at - lo)
            if lo + c < n:
                checkpoints.append(arithmetic.state_at(hidden, saved, c))
        total, from_next = 0.0, None
        for lo in reversed(starts):  # backward, recomputing each earlier segment from its checkpoint
            hi, start = min(lo + c, n), checkpoints.pop()
            if hi < n:
                hidden, saved = arithmetic.forward(params, start, x[lo:hi])
            value, dlogits = readout(params, hidden[1:], y[lo:hi], mask[lo:hi], loss, grads)
            dH = (dlogits @ params["W_hy"].T).reshape(hidden[1:].shape)
            recurrence, from_next = arithmetic.backward(params, x[lo:hi], hidden, saved, dH, from_next, lo == 0)
            for key, grad in recurrence.items():
                grads[key] += grad
            total += value
        return total, grads, carried


IMPLEMENTATION = NumpyRNN()
