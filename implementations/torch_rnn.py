"""PyTorch: a step loop under autograd; gradients from torch.autograd.grad.

torch.nn.RNN is not fused on CPU, so an explicit loop of addmm + tanh is as fast and
keeps the window (frozen prefix, cut, carried state) in plain sight.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch
import torch.nn.functional as F

from .base import Implementation
from .contract import PARAM_NAMES


def forward_states(params, state, x):
    """States after each of n steps: x (n,B,D) -> list of n tensors (B,H)."""
    n, B, D = x.shape
    inputs = torch.addmm(params["b_h"], x.reshape(n * B, D), params["W_xh"]).view(n, B, -1)
    if state is None:
        state = inputs.new_zeros(B, inputs.shape[-1])
    states = []
    for projected in inputs.unbind(0):  # unbind: one backward node, not one full-size zero grad per step
        state = torch.tanh(torch.addmm(projected, state, params["W_hh"]))
        states.append(state)
    return states


def readout_loss(params, S, y, mask, loss):
    """Masked loss of states S (n,B,H), summed over steps and batch, divided by B."""
    n, B, H = S.shape
    logits = torch.addmm(params["b_y"], S.reshape(n * B, H), params["W_hy"])
    if loss == "mse":
        per_entry = 0.5 * (logits - y.reshape(logits.shape)).square().sum(dim=1)
    else:
        per_entry = F.cross_entropy(logits, y.reshape(n * B).long(), reduction="none")
    return torch.dot(per_entry, mask.reshape(n * B)) / B


class TorchRNN(Implementation):
    name = "torch"

    def to_native(self, params):
        return {key: torch.from_numpy(value) for key, value in params.items()}

    def to_numpy(self, params):
        return {key: value.detach().numpy() for key, value in params.items()}

    def set_threads(self, threads):
        torch.set_num_threads(threads)

    def backend_info(self):
        blas = "MKL" if torch.backends.mkl.is_available() else "no MKL"
        return f"torch {torch.__version__}, {blas}, CPU capability {torch.backends.cpu.get_cpu_capability()}"

    def measure_peak_bytes(self, run, inputs=()):
        """Peak bytes of the storages autograd holds for the backward, counted once per
        storage while alive; parameters (leaves) and storages inside `inputs` excluded."""
        spans = [(a.ctypes.data, a.ctypes.data + a.nbytes) for a in inputs]
        live: dict[int, list[int]] = {}  # storage address -> [bytes, saved references alive]
        usage = {"now": 0, "peak": 0}

        def release(address):
            live[address][1] -= 1
            if not live[address][1]:
                usage["now"] -= live.pop(address)[0]

        def pack(tensor):
            storage = tensor.untyped_storage()
            address = storage.data_ptr()
            if (tensor.is_leaf and tensor.requires_grad) or any(lo <= address < hi for lo, hi in spans):
                return tensor
            if address not in live:
                live[address] = [storage.nbytes(), 0]
                usage["now"] += storage.nbytes()
                usage["peak"] = max(usage["peak"], usage["now"])
            live[address][1] += 1
            weakref.finalize(tensor, release, address)
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            result = run()
        return result, usage["peak"]

    def window(self, params, state, x, y, mask, loss, n_frozen, carry_at):
        x, y, mask = (torch.from_numpy(np.ascontiguousarray(a)) for a in (x, y, mask))
        params = {key: value.detach().requires_grad_() for key, value in params.items()}
        readout = [params["W_hy"], params["b_y"]]
        prefix_grads = [torch.zeros_like(p) for p in readout]
        total = x.new_zeros(())
        # Frozen prefix: states without a graph, in chunks no longer than the backward
        # part (memory grows with k2, not k1); their losses reach only the readout.
        chunk = max(len(x) - n_frozen, 1)
        for lo in range(0, n_frozen, chunk):
            hi = min(lo + chunk, n_frozen)
            with torch.no_grad():
                S = torch.stack(forward_states(params, state, x[lo:hi]))
            state = S[-1]
            value = readout_loss(params, S, y[lo:hi], mask[lo:hi], loss)
            for acc, grad in zip(prefix_grads, torch.autograd.grad(value, readout)):
                acc += grad
            total += value.detach()

        states = forward_states(params, state, x[n_frozen:])
        carried = None
        if carry_at is not None:
            carried = state if carry_at == n_frozen else states[carry_at - n_frozen - 1].detach()
        value = readout_loss(params, torch.stack(states), y[n_frozen:], mask[n_frozen:], loss)
        # Holding the list through the backward would keep every state alive to its end instead of
        # letting autograd free each after its step (T=4096: peak RSS 913 -> 424 MiB, docs/measurement.md).
        del states
        grads = dict(zip(PARAM_NAMES, torch.autograd.grad(value, [params[k] for k in PARAM_NAMES])))
        grads["W_hy"] += prefix_grads[0]
        grads["b_y"] += prefix_grads[1]
        return total + value.detach(), grads, carried


IMPLEMENTATION = TorchRNN()
