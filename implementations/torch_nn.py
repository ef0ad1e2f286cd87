"""PyTorch as most users would write it: torch.nn.RNN(nonlinearity='tanh') for the recurrence
and torch.nn.Linear for the readout, gradients from autograd. On a GPU, nn.RNN runs cuDNN's
fused kernel; on a CPU it is ATen's step loop.

The contract's parameters map onto the modules, run through torch.func.functional_call so
that autograd reaches the contract's own tensors: weight_ih_l0 = W_xh.T,
weight_hh_l0 = W_hh.T, bias_ih_l0 = b_h, bias_hh_l0 = 0 (held fixed); Linear weight =
W_hy.T, bias = b_y. nn.RNN expresses every piece the driver asks for: forward-only chunks
(the frozen prefix) run it under no_grad, a carried state is its h0 input, and
checkpointed BPTT wraps nn.RNN segments in torch.utils.checkpoint (torch_rnn.py). What
nn.RNN cannot do is stop the gradient inside one call, so every cut is a new call; the
loss, readout gradients, clipping and memory measure are torch_rnn's, shared.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch.func import functional_call

from .torch_rnn import TorchRNN


@lru_cache(maxsize=None)
def module(kind, *shape, dtype: torch.dtype) -> torch.nn.Module:
    """kind(*shape) of the right dtype; its own weights are never used (functional_call)."""
    extra = {"nonlinearity": "tanh"} if kind is torch.nn.RNN else {}
    return kind(*shape, dtype=dtype, **extra).requires_grad_(False)


class TorchNN(TorchRNN):
    name = "torch_nn"

    def recurrence(self, params, state, x):
        n, B, D = x.shape
        W_hh = params["W_hh"]
        weights = {
            "weight_ih_l0": params["W_xh"].T, "weight_hh_l0": W_hh.T,
            "bias_ih_l0": params["b_h"], "bias_hh_l0": W_hh.new_zeros(W_hh.shape[0]),
        }
        h0 = None if state is None else state.unsqueeze(0)
        outputs, last = functional_call(module(torch.nn.RNN, D, W_hh.shape[0], dtype=x.dtype), weights, (x, h0))
        return outputs, last[0]

    def readout(self, params, outputs):
        linear = module(torch.nn.Linear, *params["W_hy"].shape, dtype=outputs.dtype)
        return functional_call(linear, {"weight": params["W_hy"].T, "bias": params["b_y"]}, (outputs,))


IMPLEMENTATION = TorchNN()
