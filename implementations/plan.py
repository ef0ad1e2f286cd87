"""The window plan: which steps of each update run forward only, which with gradient, and
where the state handed to the next update is taken. Written once for every framework.

The driver (`base.Implementation`) walks the plan; a framework only runs its pieces:
forward-only chunks (`Window.frozen_chunks`), then one gradient part from a constant state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .schedule import Update, bptt_schedule, tbptt_schedule, with_carry_offsets


@dataclass(frozen=True)
class Window:
    """One update's work, in step indices of the sequence (h_0 is the initial state).

    Steps (start, end] are computed; those in (start, loss_from] inject no loss. Steps
    (start, grad_start] run forward only (the frozen prefix), in chunks no longer than
    the gradient part, so memory follows k2, not k1. Steps (grad_start, end] run with
    gradient from the constant state h_grad_start. `carry` is the step whose state the
    next window starts from (== start: this window's own start state), None for the last.
    `segment`: checkpoint spacing of the gradient part (checkpointed BPTT), else None.
    """

    start: int
    end: int
    loss_from: int
    grad_start: int
    carry: int | None
    segment: int | None = None

    def frozen_chunks(self) -> Iterator[tuple[int, int]]:
        """(lo, hi] step ranges of the frozen prefix, each at most end - grad_start long."""
        chunk = max(self.end - self.grad_start, 1)
        for lo in range(self.start, self.grad_start, chunk):
            yield lo, min(lo + chunk, self.grad_start)

    @property
    def carry_offset(self) -> int | None:
        """Steps into the gradient part after which the carried state is taken (>= 1), or
        None when the carried state is not taken there (last window, or carry == start)."""
        if self.carry is None or self.carry == self.start:
            return None
        return self.carry - self.grad_start


def _window(update: Update, carry: int | None, segment: int | None = None) -> Window:
    return Window(update.window_start, update.segment_end, update.segment_start, update.cut, carry, segment)


def plan(T: int, method: str = "bptt", k1: int | None = None, k2: int | None = None,
         segment: int | None = None) -> Iterator[Window]:
    """The windows of one pass over T steps, lazily (nothing kept grows with T).

    bptt: one window (0, T]; checkpointed: the same window with checkpoint spacing
    `segment`; tbptt: the ceil(T/k1) windows of TBPTT(k1, k2) (schedule.py).
    """
    updates = tbptt_schedule(T, k1, k2) if method == "tbptt" else bptt_schedule(T)
    for update, offset in with_carry_offsets(updates):
        carry = None if offset is None else update.window_start + offset
        yield _window(update, carry, segment if method == "checkpointed" else None)
