"""Does truncation keep gradients finite where BPTT's explode? Gradient norms against spectral radius.

For W_hh rescaled to spectral radius rho (as in experiment 4), the norm of the full
parameter gradient (all five parameters, gradient mode) of BPTT and of TBPTT(k, k), on
the same batches of delayed recall. Above radius 1 BPTT's norm can grow geometrically
with T; TBPTT(k, k)'s products of Jacobians are at most k long.
"""

from __future__ import annotations

import numpy as np

import implementations
from bptt_bench import tasks
from bptt_bench.experiments.gradient_bias import flatten
from bptt_bench.experiments.gradient_decay import with_spectral_radius
from bptt_bench.problems import init_params

COLUMNS = ["radius", "seed", "method", "k1", "k2", "grad_norm", "T", "H", "B", "dtype"]


def truncated_norms(
    radii=(0.5, 1.0, 1.5, 2.0, 3.0),
    ks=(4, 16),
    seeds=(0, 1, 2),
    T: int = 64,
    V: int = 4,
    H: int = 64,
    B: int = 32,
    dtype: str = "float64",
) -> list[dict]:
    """Rows (COLUMNS): ||G|| of BPTT (k1, k2 empty) and TBPTT(k, k) per radius and seed, NumPy."""
    impl = implementations.load("numpy")
    rows = []
    for radius in radii:
        for seed in seeds:
            params = with_spectral_radius(init_params(V, H, V, dtype, seed=seed), radius)
            x, y, mask = tasks.make_delayed_recall(T, 1, B, seed=[seed, 1], V=V, dtype=dtype)
            settings = [("bptt", None, None)] + [("tbptt", k, k) for k in ks]
            for method, k1, k2 in settings:
                with np.errstate(over="ignore", invalid="ignore"):
                    _, grads = impl.loss_and_grad(params, x, y, mask, method, "ce", k1, k2)
                rows.append(dict(radius=radius, seed=seed, method=method, k1=k1, k2=k2,
                                 grad_norm=float(np.linalg.norm(flatten(grads))), T=T, H=H, B=B,
                                 dtype=str(np.dtype(dtype))))
    return rows
