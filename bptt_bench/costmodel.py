"""The cost model of docs/method.md: matmul FLOPs and saved activations, per method.

A forward step of a cell with G stacked gates (rnn_tanh 1, gru 3, lstm 4) costs
F = 2B(G*DH + G*HH + HO) matmul FLOPs, a backward step about 2F. A step kept for the
backward holds SAVED_PER_STEP[cell] * B * H values, a checkpointed state STATE_VALUES[cell].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from implementations.contract import GATES, default_segment
from implementations.schedule import bptt_schedule, tbptt_schedule

# Values per hidden unit that a step keeps for the backward: rnn_tanh h; lstm the four
# gates, c and h; gru the three gates, the reset gate's recurrent input and h.
SAVED_PER_STEP = {"rnn_tanh": 1, "lstm": 6, "gru": 5}
STATE_VALUES = {"rnn_tanh": 1, "lstm": 2, "gru": 1}  # a cell's state: h, or (h, c)


@dataclass(frozen=True)
class Cost:
    forward_steps: int
    backward_steps: int
    flops: int  # forward_steps * F + backward_steps * 2F
    activation_bytes: int  # kept for the backward: longest gradient window * SAVED_PER_STEP * B * H values


def step_flops(B: int, D: int, H: int, O: int, cell: str = "rnn_tanh") -> int:
    """F: matmul FLOPs of one forward step of `cell` (input, recurrence, readout)."""
    G = GATES[cell]
    return 2 * B * (G * D * H + G * H * H + H * O)


def cost(method: str, T: int, B: int, D: int, H: int, O: int, dtype="float32", k1=None, k2=None,
         mode: str = "training", segment=None, cell: str = "rnn_tanh") -> Cost:
    """Cost of one pass over one sequence.

    BPTT: T forward and T backward steps, T states kept. TBPTT: in training mode every
    window (a_j, t_j] is run forward, sum_j (t_j - a_j) steps; in gradient mode the
    ideal is T forward steps (our implementations recompute like training mode); both
    run sum_j (t_j - s_j) backward steps and keep at most k2 states. Checkpointed BPTT
    (spacing c = segment, default ceil(sqrt(T))): T forward steps, then every segment but
    the last is recomputed in the backward (the implementations keep the last one), T
    backward steps; it keeps ceil(T/c) checkpoints plus one segment's min(c, T) steps.
    """
    unit = B * H * np.dtype(dtype).itemsize
    F = step_flops(B, D, H, O, cell)
    if method == "checkpointed":
        c = segment or default_segment(T)
        n_segments = -(-T // c)
        recomputed = (n_segments - 1) * c
        kept = n_segments * STATE_VALUES[cell] + min(c, T) * SAVED_PER_STEP[cell]
        return Cost(T + recomputed, T, (T + recomputed) * F + 2 * T * F, kept * unit)
    updates = bptt_schedule(T) if method == "bptt" else tbptt_schedule(T, k1, k2)
    forward = backward = kept = 0
    for update in updates:
        forward += update.window_length
        backward += update.n_backward
        kept = max(kept, update.n_backward)
    if mode == "gradient":
        forward = T
    return Cost(forward, backward, forward * F + 2 * backward * F, kept * SAVED_PER_STEP[cell] * unit)
