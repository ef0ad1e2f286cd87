"""The cost model of docs/method.md: matmul FLOPs, SGD updates and saved activations, per method.

Counts follow the vanilla tanh cell: a forward step costs F = 2B(DH + HH + HO) FLOPs,
a backward step about 2F; in training mode each update adds 2P (P parameters: scale the
gradient, subtract it).
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from implementations.contract import default_segment

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
         mode: str = "training", segment=None) -> Cost:
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
        forward, backward, kept = T + (n_segments - 1) * c, T, n_segments + min(c, T)
    elif method == "bptt":
        forward = backward = kept = T
    else:
        forward, backward, kept = _tbptt_steps(T, k1, k2)
        n_updates = math.ceil(T / k1)
    if mode == "gradient":
        n_updates = 0
        if method == "tbptt":
            forward = T
    F = step_flops(B, D, H, O)
    flops = forward * F + 2 * backward * F + n_updates * 2 * n_parameters(D, H, O)
    return Cost(forward, backward, n_updates, flops, kept * B * H * np.dtype(dtype).itemsize)


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
