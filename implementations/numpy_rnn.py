"""NumPy: forward and backward written by hand, no autodiff.

The cells' arithmetic is in numpy_cells; here a window is run: forward-only prefix,
forward with saved activations, readout, backward. The readout and its gradient are one
large matmul over the whole window.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import threadpoolctl

from .base import Implementation
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

    def window(self, params, state, x, y, mask, loss, n_frozen, carry_at, cell="rnn_tanh"):
        arithmetic = CELLS[cell]
        H, O = params["W_hy"].shape
        grads = {"W_hy": np.zeros((H, O), x.dtype), "b_y": np.zeros(O, x.dtype)}
        total = 0.0
        # Frozen prefix: forward in chunks no longer than the backward part, so that
        # memory grows with k2, not k1; its losses reach only the readout.
        n = len(x)
        chunk = max(n - n_frozen, 1)
        for lo in range(0, n_frozen, chunk):
            hi = min(lo + chunk, n_frozen)
            hidden, saved = arithmetic.forward(params, state, x[lo:hi])
            state = arithmetic.state_at(hidden, saved, hi - lo)
            total += readout(params, hidden[1:], y[lo:hi], mask[lo:hi], loss, grads)[0]

        x, y, mask = x[n_frozen:], y[n_frozen:], mask[n_frozen:]
        hidden, saved = arithmetic.forward(params, state, x)
        carried = None if carry_at is None else arithmetic.state_at(hidden, saved, carry_at - n_frozen)
        value, dlogits = readout(params, hidden[1:], y, mask, loss, grads)
        total += value
        dH = (dlogits @ params["W_hy"].T).reshape(hidden[1:].shape)
        grads |= arithmetic.backward(params, x, hidden, saved, dH)
        return total, grads, carried


IMPLEMENTATION = NumpyRNN()
