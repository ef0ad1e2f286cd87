"""The cost model of docs/method.md: matmul FLOPs and saved activations, per method.

Counts follow the vanilla tanh cell: a forward step costs F = 2B(DH + HH + HO) FLOPs,
a backward step about 2F.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from implementations.schedule import bptt_schedule, tbptt_schedule


@dataclass(frozen=True)
class Cost:
    forward_steps: int
    backward_steps: int
    flops: int  # forward_steps * F + backward_steps * 2F
    activation_bytes: int  # states kept for the backward: longest gradient window * B * H values


def step_flops(B: int, D: int, H: int, O: int) -> int:
    """F: matmul FLOPs of one forward step (input, recurrence, readout)."""
    return 2 * B * (D * H + H * H + H * O)


def cost(method: str, T: int, B: int, D: int, H: int, O: int, dtype="float32", k1=None, k2=None,
         mode: str = "training") -> Cost:
    """Cost of one pass over one sequence.

    BPTT: T forward and T backward steps, T states kept. TBPTT: in training mode every
    window (a_j, t_j] is run forward, sum_j (t_j - a_j) steps; in gradient mode the
    ideal is T forward steps (our implementations recompute like training mode); both
    run sum_j (t_j - s_j) backward steps and keep at most k2 states.
    """
    updates = bptt_schedule(T) if method == "bptt" else tbptt_schedule(T, k1, k2)
    forward = backward = kept = 0
    for update in updates:
        forward += update.window_length
        backward += update.n_backward
        kept = max(kept, update.n_backward)
    if mode == "gradient":
        forward = T
    F = step_flops(B, D, H, O)
    return Cost(forward, backward, forward * F + 2 * backward * F, kept * B * H * np.dtype(dtype).itemsize)
