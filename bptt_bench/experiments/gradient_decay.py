"""Experiment 4: vanishing and exploding gradients, the reason truncation exists.

For W_hh rescaled to spectral radius rho, the norm of dL_T / dh_{T-k} against k, by the
explicit chain dL/dh_{t-1} = (dL/dh_t * (1 - h_t^2)) W_hh^T. The tanh slopes (< 1) pull
the rate below what the radius alone gives: at the default sizes the norm still falls
at radius 1.5 and grows from radius 2 on, hence radii up to 3.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

import implementations
from bptt_bench import tasks
from bptt_bench.problems import init_params


def with_spectral_radius(params: dict, radius: float) -> dict:
    """params with W_hh rescaled so that its largest |eigenvalue| is `radius`."""
    if not radius > 0:
        raise ValueError(f"radius must be > 0; got {radius}")
    W_hh = params["W_hh"]
    scale = radius / np.abs(np.linalg.eigvals(W_hh.astype(np.float64))).max()
    return {**params, "W_hh": (W_hh * scale).astype(W_hh.dtype)}


def state_gradient_norms(params, x, y) -> np.ndarray:
    """(T,) mean over the batch of ||d loss_T / d h_{T-k}||, k = 0..T-1, for x (T,B,D), y (T,B).

    loss_T is the cross-entropy of one sequence at the last step (no 1/B), so the norms
    are per sequence.
    """
    S, logits = implementations.load("numpy").forward(params, x)  # (T, B, H), (T, B, O)
    T, B = y.shape
    S = np.concatenate([np.zeros_like(S[:1]), S])  # S[t] = h_t, h_0 = 0
    probabilities = softmax(logits[T - 1], axis=1)
    probabilities[np.arange(B), y[T - 1]] -= 1
    grad = probabilities @ params["W_hy"].T  # d loss_T / d h_T, (B, H)
    norms = np.empty(T)
    for k in range(T):
        norms[k] = np.linalg.norm(grad, axis=1).mean()
        grad = (grad * (1 - S[T - k] ** 2)) @ params["W_hh"].T  # -> d loss_T / d h_{T-k-1}
    return norms


def gradient_decay(
    radii=(0.5, 1.0, 1.5, 2.0, 3.0),
    T: int = 64,
    V: int = 4,
    H: int = 64,
    B: int = 32,
    seeds=(0, 1, 2),
    dtype: str = "float64",
) -> list[dict]:
    """Rows (GRADIENT_DECAY_COLUMNS): grad_norm = ||dL_T/dh_{T-k}|| per (radius, seed, k), k = 0..T-1.

    Inputs and the last step's target come from delayed recall (V symbols, lag 1); the
    target only sets the starting vector, the decay is the chain of Jacobians.
    """
    rows = []
    for radius in radii:
        for seed in seeds:
            params = with_spectral_radius(init_params(V, H, V, dtype, seed=seed), radius)
            x, y, _ = tasks.make_delayed_recall(T, 1, B, seed=[seed, 1], V=V, dtype=dtype)
            for k, norm in enumerate(state_gradient_norms(params, x, y)):
                rows.append(
                    dict(
                        radius=radius,
                        seed=seed,
                        k=k,
                        grad_norm=float(norm),
                        T=T,
                        H=H,
                        B=B,
                        dtype=str(np.dtype(dtype)),
                    )
                )
    return rows
