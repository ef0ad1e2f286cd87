"""NumPy arithmetic of the three cells (rnn_tanh, lstm, gru), forward and backward by hand.

Per step only what the recurrence forces: one (B,H)@(H,G*H) matmul and the gate
nonlinearities forward; the gates' slopes and one matmul backward. Everything that does
not depend on the previous step (input projection, weight gradients) is one large
matmul over the whole window. Equations, parameter names and gate order: SPEC.md.

Each cell is three functions over a window of n steps:

- `forward(params, state, x)` -> (hidden (n+1,B,H) with hidden[0] = h before the
  window, saved): `saved` is what the backward needs beyond hidden states;
- `state_at(hidden, saved, i)` -> the cell's state after i steps (a copy): (B,H), or
  the pair (h, c) for the LSTM;
- `backward(params, x, hidden, saved, dH, from_next, first)` -> (gradients of the
  recurrence parameters, gradient at the state before the steps): dH (n,B,H) is
  d loss / d h_t through the readout (overwritten); from_next the gradient arriving at
  the last state from later steps (a state-shaped value, or None for none: checkpointed
  BPTT hands it from one segment to the one before). With `first` the state before the
  steps is a constant: nothing flows into it and None is returned for it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import expit as sigmoid


class Cell(NamedTuple):
    forward: object
    state_at: object
    backward: object


def _hidden_buffer(n, B, H, dtype, h0):
    hidden = np.empty((n + 1, B, H), dtype)
    hidden[0] = 0 if h0 is None else h0
    return hidden


# -- rnn_tanh: h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h) --------------------------------


def tanh_forward(params, state, x):
    """hidden (n+1,B,H); nothing else saved (the tanh slope is 1 - h^2)."""
    n, B, D = x.shape
    W_hh = params["W_hh"]
    S = _hidden_buffer(n, B, W_hh.shape[0], W_hh.dtype, state)
    np.matmul(x.reshape(n * B, D), params["W_xh"], out=S[1:].reshape(n * B, -1))  # input projection, hoisted
    S[1:] += params["b_h"]
    recurrent = np.empty_like(S[0])
    for t in range(n):
        np.matmul(S[t], W_hh, out=recurrent)
        S[t + 1] += recurrent
        np.tanh(S[t + 1], out=S[t + 1])
    return S, None


def tanh_state_at(hidden, saved, i):
    return hidden[i].copy()


def tanh_backward(params, x, S, saved, dZ, from_next=None, first=True):
    n, B, H = dZ.shape
    # dZ[t] = d loss / d pre-activation at step t, filled from the last step back.
    W_hh_T = np.ascontiguousarray(params["W_hh"].T)  # BLAS runs the transposed case ~1.5x slower
    from_next = np.zeros((B, H), dZ.dtype) if from_next is None else from_next.copy()
    tanh_slope = np.empty((B, H), dZ.dtype)
    for t in range(n - 1, -1, -1):
        np.multiply(S[t + 1], S[t + 1], out=tanh_slope)
        np.subtract(1, tanh_slope, out=tanh_slope)
        dZ[t] += from_next
        dZ[t] *= tanh_slope
        if t or not first:
            np.matmul(dZ[t], W_hh_T, out=from_next)
    dZ = dZ.reshape(n * B, H)
    grads = {
        "W_xh": x.reshape(n * B, -1).T @ dZ,
        "W_hh": S[:-1].reshape(n * B, H).T @ dZ,
        "b_h": dZ.sum(axis=0),
    }
    return grads, None if first else from_next


# -- lstm: gates (i, f, g, o), c_t = f c_{t-1} + i g, h_t = o tanh(c_t) ----------------


def lstm_forward(params, state, x):
    """hidden (n+1,B,H); saved = (gates (n,B,4H) after their nonlinearities, cells (n+1,B,H))."""
    n, B, D = x.shape
    W_hh = params["W_hh"]
    H = W_hh.shape[0]
    h0, c0 = (None, None) if state is None else state
    hidden = _hidden_buffer(n, B, H, W_hh.dtype, h0)
    cells = _hidden_buffer(n, B, H, W_hh.dtype, c0)
    gates = np.matmul(x.reshape(n * B, D), params["W_xh"]).reshape(n, B, 4 * H)  # input projection, hoisted
    gates += params["b_h"]
    recurrent = np.empty((B, 4 * H), W_hh.dtype)
    for t in range(n):
        a = gates[t]
        np.matmul(hidden[t], W_hh, out=recurrent)
        a += recurrent
        sigmoid(a[:, : 2 * H], out=a[:, : 2 * H])  # i, f
        np.tanh(a[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])  # g
        sigmoid(a[:, 3 * H :], out=a[:, 3 * H :])  # o
        np.multiply(a[:, H : 2 * H], cells[t], out=cells[t + 1])
        cells[t + 1] += a[:, :H] * a[:, 2 * H : 3 * H]
        np.tanh(cells[t + 1], out=hidden[t + 1])
        hidden[t + 1] *= a[:, 3 * H :]
    return hidden, (gates, cells)


def lstm_state_at(hidden, saved, i):
    return hidden[i].copy(), saved[1][i].copy()


def lstm_backward(params, x, hidden, saved, dH, from_next=None, first=True):
    gates, cells = saved
    n, B, H = dH.shape
    W_hh_T = np.ascontiguousarray(params["W_hh"].T)
    if from_next is None:
        from_next = (np.zeros((B, H), dH.dtype), np.zeros((B, H), dH.dtype))
    # d loss / d h_t through step t+1, and d loss / d c_t carried back through the forget gate
    from_next, dc = (array.copy() for array in from_next)
    for t in range(n - 1, -1, -1):
        a = gates[t]  # overwritten below with d loss / d pre-activations
        i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        dh = dH[t]
        dh += from_next
        tanh_c = np.tanh(cells[t + 1])
        d_o = dh * tanh_c * o * (1 - o)
        dc += dh * o * (1 - tanh_c * tanh_c)
        d_i = dc * g * i * (1 - i)
        d_g = dc * i * (1 - g * g)
        d_f = dc * cells[t] * f * (1 - f)
        dc *= f
        a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :] = d_i, d_f, d_g, d_o
        if t or not first:
            np.matmul(a, W_hh_T, out=from_next)
    dA = gates.reshape(n * B, 4 * H)
    grads = {
        "W_xh": x.reshape(n * B, -1).T @ dA,
        "W_hh": hidden[:-1].reshape(n * B, H).T @ dA,
        "b_h": dA.sum(axis=0),
    }
    return grads, None if first else (from_next, dc)


# -- gru: gates (r, z, n), n = tanh(x_n + r (h W_hh_n + b_hh_n)), h = (1-z) n + z h ----


def gru_forward(params, state, x):
    """hidden (n+1,B,H); saved = (gates (n,B,3H) after their nonlinearities,
    recurrent n-parts h_{t-1} W_hh_n + b_hh_n (n,B,H), which the reset gate multiplies)."""
    n, B, D = x.shape
    W_hh, b_hh = params["W_hh"], params["b_hh"]
    H = W_hh.shape[0]
    hidden = _hidden_buffer(n, B, H, W_hh.dtype, state)
    gates = np.matmul(x.reshape(n * B, D), params["W_xh"]).reshape(n, B, 3 * H)  # input projection, hoisted
    gates += params["b_xh"]
    reset_input = np.empty((n, B, H), W_hh.dtype)
    recurrent = np.empty((B, 3 * H), W_hh.dtype)
    for t in range(n):
        a = gates[t]
        np.matmul(hidden[t], W_hh, out=recurrent)
        recurrent += b_hh
        a[:, : 2 * H] += recurrent[:, : 2 * H]
        sigmoid(a[:, : 2 * H], out=a[:, : 2 * H])  # r, z
        reset_input[t] = recurrent[:, 2 * H :]
        a[:, 2 * H :] += a[:, :H] * reset_input[t]
        np.tanh(a[:, 2 * H :], out=a[:, 2 * H :])  # n
        np.subtract(hidden[t], a[:, 2 * H :], out=hidden[t + 1])  # h = n + z (h_prev - n)
        hidden[t + 1] *= a[:, H : 2 * H]
        hidden[t + 1] += a[:, 2 * H :]
    return hidden, (gates, reset_input)


def gru_state_at(hidden, saved, i):
    return hidden[i].copy()


def gru_backward(params, x, hidden, saved, dH, from_next=None, first=True):
    gates, reset_input = saved
    n, B, H = dH.shape
    W_hh_T = np.ascontiguousarray(params["W_hh"].T)
    from_next = np.zeros((B, H), dH.dtype) if from_next is None else from_next.copy()
    d_recurrent = np.empty((B, 3 * H), dH.dtype)  # d loss / d (h_{t-1} W_hh + b_hh) at one step
    for t in range(n - 1, -1, -1):
        a = gates[t]  # overwritten below with d loss / d (x_t W_xh + b_xh)
        r, z, new = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        dh = dH[t]
        dh += from_next
        d_new = dh * (1 - z) * (1 - new * new)
        d_z = dh * (hidden[t] - new) * z * (1 - z)
        d_r = d_new * reset_input[t] * r * (1 - r)
        direct = dh * z
        reset_input[t] = d_new * r  # now d loss / d (h_{t-1} W_hh_n + b_hh_n)
        a[:, :H], a[:, H : 2 * H], a[:, 2 * H :] = d_r, d_z, d_new
        if t or not first:
            d_recurrent[:, : 2 * H] = a[:, : 2 * H]
            d_recurrent[:, 2 * H :] = reset_input[t]
            np.matmul(d_recurrent, W_hh_T, out=from_next)
            from_next += direct
    d_input = gates.reshape(n * B, 3 * H)
    d_new_recurrent = reset_input.reshape(n * B, H)
    previous = hidden[:-1].reshape(n * B, H).T
    W_hh = np.empty_like(params["W_hh"])
    W_hh[:, : 2 * H] = previous @ d_input[:, : 2 * H]
    W_hh[:, 2 * H :] = previous @ d_new_recurrent
    grads = {
        "W_xh": x.reshape(n * B, -1).T @ d_input,
        "W_hh": W_hh,
        "b_xh": d_input.sum(axis=0),
        "b_hh": np.concatenate([d_input[:, : 2 * H].sum(axis=0), d_new_recurrent.sum(axis=0)]),
    }
    return grads, None if first else from_next


CELLS = {
    "rnn_tanh": Cell(tanh_forward, tanh_state_at, tanh_backward),
    "lstm": Cell(lstm_forward, lstm_state_at, lstm_backward),
    "gru": Cell(gru_forward, gru_state_at, gru_backward),
}


def forward_states(params, state, x, cell: str = "rnn_tanh"):
    """Hidden states of n steps of `cell` from `state`: x (n,B,D) -> (n+1,B,H), [0] = h before."""
    return CELLS[cell].forward(params, state, x)[0]
