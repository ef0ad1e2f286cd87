"""The cost model of docs/method.md: matmul FLOPs, SGD updates and saved activations, per method.

Counts follow the vanilla tanh cell: a forward step costs F = 2B(DH + HH + HO) FLOPs,
a backward step about 2F; in training mode each update adds 2P (P parameters: scale the
gradient, subtract it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from implementations.schedule import bptt_schedule, tbptt_schedule

MODES = ("training", "gradient")  # what a cell times: training on one sequence, or its gradient only


@dataclass(frozen=True)
class Cost:
    forward_steps: int
    backward_steps: int
    updates: int  # SGD updates of the pass (0 in gradient mode)
    flops: int  # forward_steps * F + backward_steps * 2F + updates * 2P
    activation_bytes: int  # states kept for the backward: longest gradient window * B * H values


def step_flops(B: int, D: int, H: int, O: int) -> int:
    """F: matmul FLOPs of one forward step (input, recurrence, readout)."""
    return 2 * B * (D * H + H * H + H * O)


def n_parameters(D: int, H: int, O: int) -> int:
    """P: W_xh (D,H), W_hh (H,H), b_h (H,), W_hy (H,O), b_y (O,)."""
    return D * H + H * H + H + H * O + O


def cost(method: str, T: int, B: int, D: int, H: int, O: int, dtype="float32", k1=None, k2=None,
         mode: str = "training") -> Cost:
    """Cost of one pass over one sequence.

    Training mode (what cells time): BPTT is one update over T steps (T forward, T
    backward); TBPTT runs every window (a_j, t_j], sum_j (t_j - a_j) forward steps, and
    ceil(T/k1) updates. Gradient mode: no update; the ideal is T forward steps (our
    implementations recompute like training mode). Both run sum_j (t_j - s_j) backward
    steps and keep at most k2 states.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    updates = bptt_schedule(T) if method == "bptt" else tbptt_schedule(T, k1, k2)
    forward = backward = kept = n_updates = 0
    for update in updates:
        n_updates += 1
        forward += update.window_length
        backward += update.n_backward
        kept = max(kept, update.n_backward)
    if mode == "gradient":
        forward, n_updates = T, 0
    F = step_flops(B, D, H, O)
    flops = forward * F + 2 * backward * F + n_updates * 2 * n_parameters(D, H, O)
    return Cost(forward, backward, n_updates, flops, kept * B * H * np.dtype(dtype).itemsize)
