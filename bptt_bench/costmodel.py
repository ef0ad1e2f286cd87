"""The cost model of docs/method.md: matmul FLOPs and saved activations, per method.

Counts follow the vanilla tanh cell: a forward step costs F = 2B(DH + HH + HO) FLOPs,
a backward step about 2F.
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from implementations.contract import default_segment


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
    if method == "bptt":
        forward = backward = kept = T
    else:
        forward, backward, kept = _tbptt_steps(T, k1, k2)
    if mode == "gradient":
        forward = T
    F = step_flops(B, D, H, O)
    return Cost(forward, backward, forward * F + 2 * backward * F, kept * B * H * np.dtype(dtype).itemsize)


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
