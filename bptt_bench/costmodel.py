"""The cost model of docs/method.md: matmul FLOPs and saved activations, per method.

Counts follow the vanilla tanh cell: a forward step costs F = 2B(DH + HH + HO) FLOPs,
a backward step about 2F.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from implementations.contract import default_segment
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
         mode: str = "training", segment=None) -> Cost:
    """Cost of one pass over one sequence.

    BPTT: T forward and T backward steps, T states kept. TBPTT: in training mode every
    window (a_j, t_j] is run forward, sum_j (t_j - a_j) steps; in gradient mode the
    ideal is T forward steps (our implementations recompute like training mode); both
    run sum_j (t_j - s_j) backward steps and keep at most k2 states. Checkpointed BPTT
    (spacing c = segment, default ceil(sqrt(T))): T forward steps, then every segment but
    the last is recomputed in the backward (the implementations keep the last one), T
    backward steps; it keeps ceil(T/c) checkpoints plus one segment's min(c, T) states.
    """
    if method == "checkpointed":
        c = segment or default_segment(T)
        n_segments = -(-T // c)
        recomputed = (n_segments - 1) * c
        F = step_flops(B, D, H, O)
        kept = n_segments + min(c, T)
        return Cost(T + recomputed, T, (T + recomputed) * F + 2 * T * F, kept * B * H * np.dtype(dtype).itemsize)
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
