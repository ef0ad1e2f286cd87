"""NumPy: forward and backward written by hand, no autodiff.

Per step only what the recurrence forces: one (B,H)@(H,H) matmul, an add and a tanh
forward; an add, a multiply and one matmul backward. Everything that does not depend on
the previous step (input projection, readout, weight gradients) is one large matmul
over a whole segment.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import threadpoolctl

from .base import READOUT, Implementation


def forward_states(params, state, x):
    """States of n steps from `state`: x (n,B,D) -> S (n+1,B,H), S[0] = state (zeros if None)."""
    n, B, D = x.shape
    W_hh = params["W_hh"]
    S = np.empty((n + 1, B, W_hh.shape[0]), dtype=W_hh.dtype)
    S[0] = 0 if state is None else state
    np.matmul(x.reshape(n * B, D), params["W_xh"], out=S[1:].reshape(n * B, -1))  # input projection, hoisted
    S[1:] += params["b_h"]
    recurrent = np.empty_like(S[0])
    for t in range(n):
        np.matmul(S[t], W_hh, out=recurrent)
        S[t + 1] += recurrent
        np.tanh(S[t + 1], out=S[t + 1])
    return S


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


def backward_segment(params, S, x, y, mask, loss, grads, from_next, first):
    """Backward through one segment of g steps whose states S (g+1,B,H) start at a constant S[0].

    from_next: (B,H) gradient arriving at the segment's last state from later steps (or
    zeros). Adds every parameter's gradient into grads; returns (loss, gradient at S[0]),
    the latter None when `first` (the state before the first step is a constant).
    """
    g, B, D = x.shape
    H = S.shape[2]
    value, dlogits = readout(params, S[1:], y, mask, loss, grads)
    # dZ[t] = d loss / d pre-activation at step t, filled from the last step back.
    dZ = (dlogits @ params["W_hy"].T).reshape(g, B, H)
    W_hh_T = np.ascontiguousarray(params["W_hh"].T)  # BLAS runs the transposed case ~1.5x slower
    tanh_slope = np.empty((B, H), x.dtype)
    for t in range(g - 1, -1, -1):
        np.multiply(S[t + 1], S[t + 1], out=tanh_slope)
        np.subtract(1, tanh_slope, out=tanh_slope)
        dZ[t] += from_next
        dZ[t] *= tanh_slope
        if t or not first:
            np.matmul(dZ[t], W_hh_T, out=from_next)
    dZ = dZ.reshape(g * B, H)
    grads["W_hh"] += S[:-1].reshape(g * B, H).T @ dZ
    grads["W_xh"] += x.reshape(g * B, D).T @ dZ
    grads["b_h"] += dZ.sum(axis=0)
    return value, None if first else from_next


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

    def states(self, params, state, x):
        S = forward_states(params, state, x)
        return S[1:], S[-1].copy()

    def logits(self, params, outputs):
        return outputs @ params["W_hy"] + params["b_y"]

    def readout_grads(self, params, outputs, y, mask, loss):
        grads = {key: np.zeros_like(params[key]) for key in READOUT}
        return readout(params, outputs, y, mask, loss, grads)[0], grads

    def window_grad(self, params, state, x, y, mask, loss, carry_at, segment):
        grads = {key: np.zeros_like(value) for key, value in params.items()}
        n = len(x)
        c = n if segment is None else min(segment, n)
        starts = range(0, n, c)
        # Forward: keep only each segment's starting state (all of them when c == n: BPTT);
        # the last segment's states are kept whole, so it is never recomputed.
        checkpoints, carried = [state], None
        for lo in starts:
            S = forward_states(params, checkpoints[-1], x[lo : lo + c])
            if carry_at is not None and lo < carry_at <= lo + c:
                carried = S[carry_at - lo].copy()
            if lo + c < n:
                checkpoints.append(S[-1].copy())
        total, from_next = 0.0, np.zeros_like(S[-1])
        for lo in reversed(starts):  # backward, recomputing each earlier segment from its checkpoint
            hi, start = min(lo + c, n), checkpoints.pop()
            if hi < n:
                S = forward_states(params, start, x[lo:hi])
            value, from_next = backward_segment(params, S, x[lo:hi], y[lo:hi], mask[lo:hi], loss, grads,
                                                from_next, first=lo == 0)
            total += value
        return total, grads, carried


IMPLEMENTATION = NumpyRNN()
