"""PyTorch as most users would write it: torch.nn.RNN(nonlinearity='tanh'), torch.nn.LSTM or
torch.nn.GRU for the recurrence and torch.nn.Linear for the readout, gradients from autograd.
On a GPU, these modules run cuDNN's fused kernels; on a CPU, ATen's step loop.

The contract's parameters map onto the modules, run through torch.func.functional_call so
that autograd reaches the contract's own tensors: weight_ih_l0 = W_xh.T,
weight_hh_l0 = W_hh.T; rnn_tanh and lstm bias_ih_l0 = b_h, bias_hh_l0 = 0 (held fixed);
gru bias_ih_l0 = b_xh, bias_hh_l0 = b_hh; Linear weight = W_hy.T, bias = b_y. The LSTM's
state (h, c) is the module's (h0, c0) input and (h_n, c_n) output. The modules express
every piece the driver asks for: forward-only chunks
(the frozen prefix) run the module under no_grad, a carried state is its h0 input, and
checkpointed BPTT wraps module segments in torch.utils.checkpoint (torch_rnn.py). What a
module cannot do is stop the gradient inside one call, so every cut is a new call; the
loss, readout gradients, clipping and memory measure are torch_rnn's, shared.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch.func import functional_call

from .torch_rnn import TorchRNN

MODULES = {"rnn_tanh": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


@lru_cache(maxsize=None)
def module(kind, *shape, dtype: torch.dtype) -> torch.nn.Module:
    """kind(*shape) of the right dtype; its own weights are never used (functional_call)."""
    extra = {"nonlinearity": "tanh"} if kind is torch.nn.RNN else {}
    return kind(*shape, dtype=dtype, **extra).requires_grad_(False)


class TorchNN(TorchRNN):
    name = "torch_nn"

    def recurrence(self, params, state, x, cell="rnn_tanh"):
        n, B, D = x.shape
        W_hh = params["W_hh"]
        # cuDNN packs the weights into one buffer by viewing each: they must be contiguous.
        weights = {"weight_ih_l0": params["W_xh"].T.contiguous(), "weight_hh_l0": W_hh.T.contiguous()}
        if cell == "gru":
            weights |= {"bias_ih_l0": params["b_xh"], "bias_hh_l0": params["b_hh"]}
        else:
            weights |= {"bias_ih_l0": params["b_h"], "bias_hh_l0": W_hh.new_zeros(W_hh.shape[1])}
        if state is None:
            h0 = None
        elif cell == "lstm":
            h0 = tuple(s.unsqueeze(0) for s in state)
        else:
            h0 = state.unsqueeze(0)
        recurrent = module(MODULES[cell], D, W_hh.shape[0], dtype=x.dtype)
        outputs, last = functional_call(recurrent, weights, (x, h0))
        return outputs, tuple(s[0] for s in last) if cell == "lstm" else last[0]

    def readout(self, params, outputs):
        linear = module(torch.nn.Linear, *params["W_hy"].shape, dtype=outputs.dtype)
        return functional_call(linear, {"weight": params["W_hy"].T, "bias": params["b_y"]}, (outputs,))


IMPLEMENTATION = TorchNN()
