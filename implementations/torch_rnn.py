"""PyTorch: a step loop under autograd; gradients from torch.autograd.grad.

torch.nn.RNN is not fused on CPU, so an explicit loop of addmm + tanh is as fast and
keeps the arithmetic in plain sight (torch_nn.py runs the same contract on nn.RNN).
Checkpointed BPTT wraps each segment but the last in torch.utils.checkpoint
(non-reentrant), so only segment boundaries are saved and each segment is recomputed
in the backward pass.
"""

from __future__ import annotations

import contextlib
import weakref

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from .base import READOUT, Implementation


def tanh_step(params, state, projected):
    """rnn_tanh: h (B,H) -> h; projected = x_t W_xh + b_h (B,H)."""
    return torch.tanh(torch.addmm(projected, state, params["W_hh"]))


def lstm_step(params, state, projected):
    """lstm: (h, c) -> (h, c); projected = x_t W_xh + b_h (B,4H), gates (i, f, g, o)."""
    h, c = state
    i, f, g, o = torch.addmm(projected, h, params["W_hh"]).chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gru_step(params, state, projected):
    """gru: h -> h; projected = x_t W_xh + b_xh (B,3H), gates (r, z, n)."""
    x_r, x_z, x_n = projected.chunk(3, dim=1)
    h_r, h_z, h_n = torch.addmm(params["b_hh"], state, params["W_hh"]).chunk(3, dim=1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return n + z * (state - n)


# cell -> (step, input bias, number of state tensors)
CELLS = {"rnn_tanh": (tanh_step, "b_h", 1), "lstm": (lstm_step, "b_h", 2), "gru": (gru_step, "b_xh", 1)}


def hidden(state):
    """h of a cell state: the state itself, or the first of the LSTM's (h, c)."""
    return state[0] if isinstance(state, tuple) else state


def detached(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def forward_states(params, state, x, cell="rnn_tanh"):
    """States after each of n steps of `cell`: x (n,B,D) tensor -> list of n states ((B,H),
    or (h, c) pairs for the LSTM)."""
    step, input_bias, n_tensors = CELLS[cell]
    n, B, D = x.shape
    inputs = torch.addmm(params[input_bias], x.reshape(n * B, D), params["W_xh"]).view(n, B, -1)
    if state is None:
        zeros = inputs.new_zeros(B, params["W_hh"].shape[0])
        state = zeros if n_tensors == 1 else (zeros,) * n_tensors
    states = []
    for projected in inputs.unbind(0):  # unbind: one backward node, not one full-size zero grad per step
        state = step(params, state, projected)
        states.append(state)
    return states


def readout_loss(logits, y, mask, loss):
    """Masked loss of logits (n,B,O), summed over steps and batch, divided by B."""
    n, B, O = logits.shape
    logits = logits.reshape(n * B, O)
    if loss == "mse":
        per_entry = 0.5 * (logits - y.reshape(logits.shape)).square().sum(dim=1)
    else:
        per_entry = F.cross_entropy(logits, y.reshape(n * B).long(), reduction="none")
    return torch.dot(per_entry, mask.reshape(n * B)) / B


class TorchRNN(Implementation):
    name = "torch"
    devices = ("cpu", "cuda")
    _device = torch.device("cpu")  # where the call in progress runs (set by on_device)

    def recurrence(self, params, state, x, cell="rnn_tanh"):
        """(outputs (n,B,H), final state) of n steps of `cell` over x (n,B,D) from `state`
        (None: zeros), under whatever graph mode is in force."""
        states = forward_states(params, state, x, cell)
        # the final state is not a view of the stack: that would keep the stack alive
        return torch.stack([hidden(s) for s in states]), states[-1]

    def readout(self, params, outputs):
        """Logits (n,B,O) of outputs (n,B,H), under whatever graph mode is in force."""
        return torch.addmm(params["b_y"], outputs.flatten(0, 1), params["W_hy"]).view(*outputs.shape[:2], -1)

    def tensors(self, *arrays):
        """NumPy arrays as tensors on the call's device, sharing memory on the CPU where they can;
        a read-only array is copied (PyTorch cannot mark a tensor read-only)."""
        arrays = (np.ascontiguousarray(a) for a in arrays)
        return tuple(torch.from_numpy(a if a.flags.writeable else a.copy()).to(self._device) for a in arrays)

    def to_native(self, params):
        return dict(zip(params, self.tensors(*params.values())))

    def to_numpy(self, params):
        return {key: self.host(value) for key, value in params.items()}

    def host(self, value):
        return value.detach().cpu().numpy()

    def device_available(self, device):
        return device == "cpu" or torch.cuda.is_available()

    @contextlib.contextmanager
    def precision(self, dtype):
        # cuDNN's RNNs (torch_nn on a GPU) compute float32 in TF32 by default: IEEE float32 instead, as
        # PyTorch's own matmuls and the other frameworks do. No effect on a CPU.
        # PyTorch >= 2.9 names it cudnn.rnn.fp32_precision; before, cudnn.allow_tf32 (a GPU node's own build).
        rnn = getattr(torch.backends.cudnn, "rnn", None)
        owner, name, ieee = (rnn, "fp32_precision", "ieee") if hasattr(rnn, "fp32_precision") else (
            torch.backends.cudnn, "allow_tf32", False)
        before = getattr(owner, name)
        setattr(owner, name, ieee)
        try:
            yield
        finally:
            setattr(owner, name, before)

    @contextlib.contextmanager
    def on_device(self, device):
        self._device = torch.device(device)
        try:
            yield
        finally:
            del self._device  # back to the class's CPU

    def maximum(self, value, bound):
        return torch.clamp(value, min=bound)

    def set_threads(self, threads):
        torch.set_num_threads(threads)

    def prepare(self, methods):
        if "checkpointed" in methods:
            # torch.utils.checkpoint imports torch._dynamo on its first call (about 800 modules, 60-80 MB
            # of resident memory): imported now, not inside a measured cell. Not at module import,
            # where every other method and the matmul peak paid for it: a measuring worker's import
            # took 5.3 s with it and 2.3 s without, the torch peak measurement 8.4-9.0 s and 4.6-4.7 s.
            import torch._dynamo  # noqa: F401

    def backend_info(self):
        blas = "MKL" if torch.backends.mkl.is_available() else "no MKL"
        gpu = f", CUDA {torch.version.cuda} on {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
        return f"torch {torch.__version__}, {blas}, CPU capability {torch.backends.cpu.get_cpu_capability()}{gpu}"

    def measure_peak_bytes(self, run, inputs=(), device="cpu"):
        """Peak bytes of the storages autograd holds for the backward, counted once per
        storage while alive; parameters (leaves) and storages inside `inputs` excluded.
        On 'cuda': the caching allocator's peak of allocated bytes above what was allocated
        before run() (inputs and parameters copied in by run() are counted there)."""
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            result = run()
            torch.cuda.synchronize()
            return result, torch.cuda.max_memory_allocated() - before
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

    def states(self, params, state, x, cell="rnn_tanh"):
        with torch.no_grad():
            outputs, last = self.recurrence(params, state, *self.tensors(x), cell)
        return outputs, last

    def logits(self, params, outputs):
        with torch.no_grad():
            return self.readout(params, outputs)

    def readout_grads(self, params, outputs, y, mask, loss):
        readout = {key: params[key].detach().requires_grad_() for key in READOUT}
        value = readout_loss(self.readout(readout, outputs), *self.tensors(y, mask), loss)
        return value.detach(), dict(zip(READOUT, torch.autograd.grad(value, list(readout.values()))))

    def window_grad(self, params, state, x, y, mask, loss, carry_at, segment, cell="rnn_tanh"):
        x, y, mask = self.tensors(x, y, mask)
        leaves = {key: value.detach().requires_grad_() for key, value in params.items()}

        def piece_loss(state, lo, hi):
            outputs, last = self.recurrence(leaves, state, x[lo:hi], cell)
            return readout_loss(self.readout(leaves, outputs), y[lo:hi], mask[lo:hi], loss), last

        n = len(x)
        bounds = sorted(set(range(0, n, segment or n)) | {carry_at or 0, n})
        total, carried = 0, None
        for lo, hi in zip(bounds, bounds[1:]):
            if segment is not None and hi < n:  # checkpointed: keep the segment's start only
                value, state = checkpoint(piece_loss, state, lo, hi, use_reentrant=False)
            else:
                value, state = piece_loss(state, lo, hi)
            total = total + value
            if hi == carry_at:
                carried = detached(state)
        grads = torch.autograd.grad(total, list(leaves.values()))
        return total.detach(), dict(zip(leaves, grads)), carried


IMPLEMENTATION = TorchRNN()
