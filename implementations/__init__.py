"""BPTT and TBPTT(k1, k2) for Elman, LSTM and GRU cells in NumPy, PyTorch and JAX, behind one contract.

    import implementations
    impl = implementations.load("torch")
    loss, grads = impl.loss_and_grad(params, x, y, mask, method="tbptt", k1=8, k2=16)
    losses, new_params = impl.train_tbptt(params, x, y, mask, k1=8, k2=16, lr=0.1, cell="gru")
    states, logits = impl.forward(params, x)

A framework is one module defining a subclass of `base.Implementation`, plus one line
in `REGISTRY`; it is imported only when loaded. What the rest of the study asks about a
framework without loading it (its package for provenance, what its native memory figure
counts, plotting order = registry order) is in its `Entry`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from .base import Implementation


@dataclass(frozen=True)
class Entry:
    module: str  # the module whose IMPLEMENTATION this is
    package: str  # the distribution whose version provenance records
    native_memory: str  # what its measure_peak_bytes counts (label of its native memory figure)
    device_memory: str = ""  # what it counts on a GPU instead, where it runs on one


REGISTRY = {
    "numpy": Entry("implementations.numpy_rnn", "numpy", "tracemalloc"),
    "torch": Entry("implementations.torch_rnn", "torch", "saved tensors", "allocator peak"),
    "jax": Entry("implementations.jax_rnn", "jax", "XLA temp buffers", "XLA temp buffers"),
    "torch_nn": Entry("implementations.torch_nn", "torch", "saved tensors", "allocator peak"),
}
NAMES = tuple(REGISTRY)  # also the plotting order
PACKAGES = tuple(dict.fromkeys(entry.package for entry in REGISTRY.values()))  # each once, in order


def load(name: str) -> Implementation:
    """The implementation called `name` (one of NAMES); KeyError lists the known ones."""
    if name not in REGISTRY:
        raise KeyError(f"unknown implementation {name!r}; known: {', '.join(NAMES)}")
    return importlib.import_module(REGISTRY[name].module).IMPLEMENTATION


__all__ = ["NAMES", "PACKAGES", "REGISTRY", "Entry", "Implementation", "load"]
