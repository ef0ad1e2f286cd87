"""A deliberately naive transcription of the contract, independent of implementations/.

Per-step loops, every state stored, its own schedule arithmetic: slow and obviously
right, so that the optimised implementations have something to be checked against.
Step t (1-based) reads x[t-1], y[t-1], mask[t-1] and produces states[t].
"""

from __future__ import annotations

import math

import numpy as np


def forward(theta, h, x):
    """[h, h_1, ..., h_n] from h over the n steps of x."""
    states = [h]
    for x_t in x:
        states.append(np.tanh(x_t @ theta["W_xh"] + states[-1] @ theta["W_hh"] + theta["b_h"]))
    return states


def step_loss(theta, h, y_t, m_t, loss):
    """(loss of one step summed over the batch / B, d loss / d logits)."""
    B = h.shape[0]
    o = h @ theta["W_hy"] + theta["b_y"]
    if loss == "mse":
        d = o - y_t
        return 0.5 * np.sum(m_t * np.sum(d * d, axis=1)) / B, d * m_t[:, None] / B
    p = np.exp(o - o.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(B)
    value = -np.sum(m_t * np.log(p[rows, y_t])) / B
    p[rows, y_t] -= 1
    return value, p * m_t[:, None] / B


def segment_loss_and_grad(theta, states_before, x, y, mask, loss, start, end, cut):
    """L_j and g_j for segment (start, end] with cut s: states_before[t] = h_t for t <= cut.

    The window recomputes h_{cut+1..end} from the constant h_cut with theta; losses at
    steps in (start, cut] use the constant states and reach only the readout.
    """
    grads = {k: np.zeros_like(v) for k, v in theta.items()}
    total = 0.0
    for t in range(start + 1, cut + 1):  # frozen steps of the segment (only when k2 < segment length)
        value, d = step_loss(theta, states_before[t], y[t - 1], mask[t - 1], loss)
        total += value
        grads["W_hy"] += states_before[t].T @ d
        grads["b_y"] += d.sum(0)
    hs = forward(theta, states_before[cut], x[cut:end])  # hs[i] = h_{cut+i}
    d_state = np.zeros_like(hs[0])
    for i in range(end - cut, 0, -1):
        t = cut + i
        if t > start:
            value, d = step_loss(theta, hs[i], y[t - 1], mask[t - 1], loss)
            total += value
            grads["W_hy"] += hs[i].T @ d
            grads["b_y"] += d.sum(0)
            d_state = d_state + d @ theta["W_hy"].T
        dz = d_state * (1 - hs[i] ** 2)
        grads["W_hh"] += hs[i - 1].T @ dz
        grads["W_xh"] += x[t - 1].T @ dz
        grads["b_h"] += dz.sum(0)
        d_state = dz @ theta["W_hh"].T
    return total, grads


def boundaries(T, k1, k2):
    """[(t_{j-1}, t_j, s_j)] for j = 1..ceil(T/k1)."""
    return [(j * k1, min((j + 1) * k1, T), max(min((j + 1) * k1, T) - k2, 0)) for j in range(math.ceil(T / k1))]


def tbptt_gradient(theta, x, y, mask, loss, k1, k2):
    """Gradient mode: (per-segment losses, G = sum_j g_j) with parameters fixed."""
    states = forward(theta, np.zeros((x.shape[1], theta["W_hh"].shape[0])), x)
    losses, total = [], {k: np.zeros_like(v) for k, v in theta.items()}
    for start, end, cut in boundaries(len(x), k1, k2):
        value, grads = segment_loss_and_grad(theta, states, x, y, mask, loss, start, end, cut)
        losses.append(value)
        total = {k: total[k] + grads[k] for k in total}
    return losses, total


def tbptt_train(theta, x, y, mask, loss, k1, k2, lr, clip=None):
    """Training mode, literally: update j starts from the stored state at a_j = min(s_j, t_{j-1}),
    recomputes the states up to t_j with the current parameters, stores them, and steps."""
    theta = {k: v.copy() for k, v in theta.items()}
    stored = {0: np.zeros((x.shape[1], theta["W_hh"].shape[0]))}
    losses = []
    for start, end, cut in boundaries(len(x), k1, k2):
        a = min(cut, start)
        hs = forward(theta, stored[a], x[a:end])
        stored.update({a + i: h for i, h in enumerate(hs)})
        value, grads = segment_loss_and_grad(theta, stored, x, y, mask, loss, start, end, cut)
        losses.append(value)
        norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
        scale = clip / norm if clip is not None and norm > clip else 1.0
        theta = {k: theta[k] - lr * scale * grads[k] for k in theta}
    return losses, theta


def frozen_objective(theta0, x, y, mask, loss, k1, k2):
    """F(theta) = sum_j L_j(theta) with every cut state h_{s_j} (and every state at or before it)
    held at its value under theta0: the function whose gradient at theta0 is the TBPTT gradient."""
    states0 = forward(theta0, np.zeros((x.shape[1], theta0["W_hh"].shape[0])), x)

    def objective(theta):
        return sum(
            segment_loss_and_grad(theta, states0, x, y, mask, loss, start, end, cut)[0]
            for start, end, cut in boundaries(len(x), k1, k2)
        )

    return objective
