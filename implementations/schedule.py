"""The TBPTT schedule: which steps each update sees, written once for every framework.

Words used throughout (see docs/method.md):

- *segment* j: the steps (t_{j-1}, t_j] whose losses update j injects, t_j = min(j*k1, T);
- *cut* s_j = max(t_j - k2, 0): the state h_{s_j} is a constant for update j;
- *window* j: the steps (a_j, t_j] that update j computes, a_j = min(s_j, t_{j-1}).
  Its first s_j - a_j steps (the *frozen prefix*, non-empty only when k2 is shorter
  than the segment) are run forward only: their losses reach the readout, not the
  recurrence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Update:
    """One TBPTT update, in step indices of the sequence (h_0 is the initial state)."""

    segment_start: int  # t_{j-1}
    segment_end: int  # t_j
    cut: int  # s_j
    window_start: int  # a_j

    @property
    def window_length(self) -> int:
        return self.segment_end - self.window_start

    @property
    def n_frozen(self) -> int:
        """Leading window steps whose states are constants (readout gradient only)."""
        return self.cut - self.window_start

    @property
    def n_backward(self) -> int:
        """Steps the gradient flows back through the recurrence: t_j - s_j."""
        return self.segment_end - self.cut


def tbptt_schedule(T: int, k1: int, k2: int) -> Iterator[Update]:
    """The ceil(T/k1) updates of TBPTT(k1, k2) over T steps, lazily (memory must not grow
    with T); the last segment may be short."""
    for j in range(1, math.ceil(T / k1) + 1):
        start, end = (j - 1) * k1, min(j * k1, T)
        cut = max(end - k2, 0)
        yield Update(start, end, cut, min(cut, start))


def bptt_schedule(T: int) -> Iterator[Update]:
    """Full BPTT as a schedule: one update, one window over all T steps (== TBPTT(T, T))."""
    yield Update(0, T, 0, 0)


def with_carry_offsets(updates: Iterable[Update]) -> Iterator[tuple[Update, int | None]]:
    """Each update with the window offset of the state the next update starts from.

    Update j+1 starts at a_{j+1}, which lies in (s_j, t_j] or equals a_j, so the state
    it needs is one that update j computed with gradient (or update j's own start).
    The offset is None for the last update.
    """
    updates = iter(updates)
    current = next(updates, None)
    for following in updates:
        offset = following.window_start - current.window_start
        assert offset == 0 or offset > current.n_frozen, (current, following)
        yield current, offset
        current = following
    if current is not None:
        yield current, None
