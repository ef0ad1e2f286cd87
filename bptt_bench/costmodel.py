"""The cost model of docs/method.md: matmul FLOPs, SGD updates and saved activations, per method.

A forward step of a cell with G stacked gates (rnn_tanh 1, gru 3, lstm 4) costs
F = 2B(G*DH + G*HH + HO) matmul FLOPs, a backward step about 2F; in training mode each
update adds 2P (P parameters: scale the gradient, subtract it). A step kept for the
backward holds SAVED_PER_STEP[cell] * B * H values, a checkpointed state STATE_VALUES[cell].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from implementations.contract import GATES, default_segment, param_shapes

MODES = ("training", "gradient")  # what a cell times: training on one sequence, or its gradient only

# Values per hidden unit that a step keeps for the backward: rnn_tanh h; lstm the four
# gates, c and h; gru the three gates, the reset gate's recurrent input and h.
SAVED_PER_STEP = {"rnn_tanh": 1, "lstm": 6, "gru": 5}
STATE_VALUES = {"rnn_tanh": 1, "lstm": 2, "gru": 1}  # a cell's state: h, or (h, c)


@dataclass(frozen=True)
class Cost:
    forward_steps: int
    backward_steps: int
    updates: int  # SGD updates of the pass (0 in gradient mode)
    flops: int  # forward_steps * F + backward_steps * 2F + updates * 2P
    activation_bytes: int  # kept for the backward: longest gradient window * SAVED_PER_STEP * B * H values


def step_flops(B: int, D: int, H: int, O: int, cell: str = "rnn_tanh") -> int:
    """F: matmul FLOPs of one forward step of `cell` (input, recurrence, readout)."""
    G = GATES[cell]
    return 2 * B * (G * D * H + G * H * H + H * O)


def n_parameters(D: int, H: int, O: int, cell: str = "rnn_tanh") -> int:
    """P: the number of parameters of `cell` (contract.param_shapes), readout included."""
    return sum(math.prod(shape) for shape in param_shapes(cell, D, H, O).values())


def cost(method: str, T: int, B: int, D: int, H: int, O: int, dtype="float32", k1=None, k2=None,
         mode: str = "training", segment=None, cell: str = "rnn_tanh") -> Cost:
    """Cost of one pass over one sequence.

    Training mode (what cells time): BPTT and checkpointed BPTT are one update over T
    steps; TBPTT runs every window (a_j, t_j], sum_j (t_j - a_j) forward steps, and
    ceil(T/k1) updates. Gradient mode: no update; TBPTT's ideal is T forward steps (our
    implementations recompute like training mode). BPTT: T forward and T backward steps,
    T states kept. TBPTT: sum_j (t_j - s_j) backward steps, at most k2 states kept.
    Checkpointed BPTT (spacing c = segment, default ceil(sqrt(T))): T forward steps, then
    every segment but the last is recomputed in the backward (the implementations keep the
    last one), T backward steps; it keeps ceil(T/c) checkpoints plus one segment's min(c, T)
    states.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    n_updates = 1
    if method == "checkpointed":
        c = segment or default_segment(T)
        n_segments = -(-T // c)
        forward, backward = T + (n_segments - 1) * c, T
        kept_values = n_segments * STATE_VALUES[cell] + min(c, T) * SAVED_PER_STEP[cell]
    elif method == "bptt":
        forward = backward = T
        kept_values = T * SAVED_PER_STEP[cell]
    else:
        forward, backward, kept = _tbptt_steps(T, k1, k2)
        kept_values = kept * SAVED_PER_STEP[cell]
        n_updates = math.ceil(T / k1)
    if mode == "gradient":
        n_updates = 0
        if method == "tbptt":
            forward = T
    F = step_flops(B, D, H, O, cell)
    flops = forward * F + 2 * backward * F + n_updates * 2 * n_parameters(D, H, O, cell)
    return Cost(forward, backward, n_updates, flops, kept_values * B * H * np.dtype(dtype).itemsize)


def _tbptt_steps(T: int, k1: int, k2: int) -> tuple[int, int, int]:
    """(forward, backward, longest backward) steps of the schedule tbptt_schedule(T, k1, k2), in O(1).

    Update j < n = ceil(T/k1) ends at t_j = j*k1; the last ends at T and its segment has
    r = T - (n-1)*k1 steps. Update j runs min(k2, t_j) steps backward and
    max(min(k2, t_j), t_j - t_{j-1}) forward, which for j < n is min(max(k1, k2), j*k1).
    The sums are closed forms, so that a cell of any T costs nothing to plan (the time
    limit of a cell must cover everything it does).
    """
    n = math.ceil(T / k1)
    last = min(k2, T)
    backward = _sum_min(k2, k1, n - 1) + last
    forward = _sum_min(max(k1, k2), k1, n - 1) + max(last, T - (n - 1) * k1)
    return forward, backward, last


def _sum_min(cap: int, k1: int, n: int) -> int:
    """sum_{j=1..n} min(cap, j*k1): j*k1 < cap for the first m = min(n, (cap-1)//k1) terms."""
    m = min(n, (cap - 1) // k1)
    return k1 * m * (m + 1) // 2 + cap * (n - m)
