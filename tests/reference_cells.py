"""An independent reference for the gated cells: torch.nn.LSTM / torch.nn.GRU, driven naively.

The weights map one to one (SPEC.md): weight_ih_l0 = W_xh.T, weight_hh_l0 = W_hh.T;
GRU bias_ih_l0 = b_xh, bias_hh_l0 = b_hh; LSTM bias_ih_l0 = b_h, bias_hh_l0 = 0 (fixed).
States are stored for every step and each segment is recomputed from its stored cut
state with its own schedule arithmetic (reference.boundaries), so nothing here shares
code with implementations/.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from reference import boundaries


def module_and_readout(cell, params):
    """(torch.nn.LSTM or GRU holding params' recurrence, {'W_hy', 'b_y'} leaf tensors), float64."""
    D, H = params["W_xh"].shape[0], params["W_hh"].shape[0]
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, H, dtype=torch.float64)
    as_tensor = lambda name: torch.from_numpy(np.asarray(params[name], np.float64))  # noqa: E731
    with torch.no_grad():
        module.weight_ih_l0.copy_(as_tensor("W_xh").T)
        module.weight_hh_l0.copy_(as_tensor("W_hh").T)
        if cell == "gru":
            module.bias_ih_l0.copy_(as_tensor("b_xh"))
            module.bias_hh_l0.copy_(as_tensor("b_hh"))
        else:
            module.bias_ih_l0.copy_(as_tensor("b_h"))
            module.bias_hh_l0.zero_()
    module.bias_hh_l0.requires_grad_(cell == "gru")
    readout = {name: as_tensor(name).clone().requires_grad_() for name in ("W_hy", "b_y")}
    return module, readout


def our_grads(cell, module, readout):
    """The module's and readout's .grad in the contract's names and layout (NumPy)."""
    grads = {"W_xh": module.weight_ih_l0.grad.T, "W_hh": module.weight_hh_l0.grad.T}
    if cell == "gru":
        grads |= {"b_xh": module.bias_ih_l0.grad, "b_hh": module.bias_hh_l0.grad}
    else:
        grads["b_h"] = module.bias_ih_l0.grad
    grads |= {name: tensor.grad for name, tensor in readout.items()}
    return {name: g.detach().numpy().copy() for name, g in grads.items()}


def step_loss(readout, h, y_t, m_t, loss):
    """Masked loss of one step's h (B,H), summed over the batch, / B."""
    logits = h @ readout["W_hy"] + readout["b_y"]
    if loss == "mse":
        per_entry = 0.5 * ((logits - torch.from_numpy(np.asarray(y_t, np.float64))) ** 2).sum(dim=1)
    else:
        per_entry = F.cross_entropy(logits, torch.from_numpy(np.asarray(y_t)).long(), reduction="none")
    return (per_entry * torch.from_numpy(np.asarray(m_t, np.float64))).sum() / h.shape[0]


def run(module, state, x):
    """States after each step of x (n,B,D) from state: list of (h, c) for LSTM, h for GRU, (1,B,H)."""
    states = []
    for x_t in torch.from_numpy(np.asarray(x, np.float64)):
        _, state = module(x_t[None], state)
        states.append(state)
    return states


def hidden(state):
    return (state[0] if isinstance(state, tuple) else state)[0]


def constant(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def initial_state(cell, B, H):
    zeros = torch.zeros(1, B, H, dtype=torch.float64)
    return (zeros, zeros) if cell == "lstm" else zeros


def segment_loss(module, readout, stored, x, y, mask, loss, start, end, cut):
    """L_j with the graph of g_j: steps (start, cut] use constant stored states (readout only);
    the window recomputes (cut, end] from the constant state stored[cut]."""
    total = sum(step_loss(readout, hidden(stored[t]), y[t - 1], mask[t - 1], loss) for t in range(start + 1, cut + 1))
    for i, state in enumerate(run(module, constant(stored[cut]), x[cut:end]), start=cut + 1):
        if i > start:
            total = total + step_loss(readout, hidden(state), y[i - 1], mask[i - 1], loss)
    return total


def tbptt_gradient(cell, params, x, y, mask, loss, k1, k2):
    """Gradient mode: (sum of L_j, G = sum_j g_j) with parameters fixed; BPTT is k1 = k2 = T."""
    module, readout = module_and_readout(cell, params)
    with torch.no_grad():
        stored = [initial_state(cell, x.shape[1], params["W_hh"].shape[0])]
        stored += run(module, stored[0], x)
    total = 0.0
    for start, end, cut in boundaries(len(x), k1, k2):
        value = segment_loss(module, readout, stored, x, y, mask, loss, start, end, cut)
        value.backward()
        total += value.item()
    return total, our_grads(cell, module, readout)


def tbptt_train(cell, params, x, y, mask, loss, k1, k2, lr, clip=None):
    """Training mode, literally: update j recomputes from the stored state at a_j = min(s_j, t_{j-1})
    with the current parameters, stores the states it computed, and steps (SGD, optional clip)."""
    params = {k: np.asarray(v, np.float64).copy() for k, v in params.items()}
    stored = {0: initial_state(cell, x.shape[1], params["W_hh"].shape[0])}
    losses = []
    for start, end, cut in boundaries(len(x), k1, k2):
        module, readout = module_and_readout(cell, params)
        a = min(cut, start)
        with torch.no_grad():
            stored.update(dict(enumerate(run(module, stored[a], x[a:end]), start=a + 1)))
        value = segment_loss(module, readout, stored, x, y, mask, loss, start, end, cut)
        value.backward()
        losses.append(value.item())
        grads = our_grads(cell, module, readout)
        norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
        scale = clip / norm if clip is not None and norm > clip else 1.0
        params = {k: params[k] - lr * scale * grads[k] for k in params}
    return losses, params
