"""BPTT and TBPTT(k1, k2) for an Elman RNN in NumPy, PyTorch and JAX, behind one contract.

    import implementations
    impl = implementations.load("torch")
    loss, grads = impl.loss_and_grad(params, x, y, mask, method="tbptt", k1=8, k2=16)
    losses, new_params = impl.train_tbptt(params, x, y, mask, k1=8, k2=16, lr=0.1)

A framework is one module defining a subclass of `base.Implementation`, plus one line
in `_MODULES`; it is imported only when loaded.
"""

from __future__ import annotations

import importlib

from .base import Implementation

_MODULES = {
    "numpy": "implementations.numpy_rnn",
    "torch": "implementations.torch_rnn",
    "jax": "implementations.jax_rnn",
}
NAMES = tuple(_MODULES)


def load(name: str) -> Implementation:
    """The implementation called `name` (one of NAMES); KeyError lists the known ones."""
    if name not in _MODULES:
        raise KeyError(f"unknown implementation {name!r}; known: {', '.join(NAMES)}")
    return importlib.import_module(_MODULES[name]).IMPLEMENTATION


__all__ = ["NAMES", "Implementation", "load"]
