"""Repeated timing and its statistics (median, IQR, min, outliers), pytest-benchmark style.

Each repeat records wall seconds and the process's CPU seconds (all its threads), so a
row can show whether a cell used more cores than it says.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Timing:
    times_s: tuple[float, ...]
    cpu_s: tuple[float, ...] = ()  # process CPU seconds of each repeat, beside times_s
    first_result: object = field(default=None, compare=False, repr=False)  # what the first timed call returned

    @property
    def n_repeats(self) -> int:
        return len(self.times_s)

    @property
    def median_s(self) -> float:
        return float(np.median(self.times_s))

    @property
    def cpu_median_s(self) -> float:
        return float(np.median(self.cpu_s)) if self.cpu_s else float("nan")

    @property
    def cpu_per_wall(self) -> float:
        """Median over repeats of CPU seconds / wall seconds: about the number of busy cores."""
        if not self.cpu_s:
            return float("nan")
        return float(np.median([cpu / wall for cpu, wall in zip(self.cpu_s, self.times_s) if wall > 0]))

    @property
    def iqr_s(self) -> float:
        q1, q3 = np.percentile(self.times_s, [25, 75])
        return float(q3 - q1)

    @property
    def min_s(self) -> float:
        return float(min(self.times_s))

    @property
    def n_outliers(self) -> int:
        """Repeats outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR]."""
        q1, q3 = np.percentile(self.times_s, [25, 75])
        low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        return sum(not low <= t <= high for t in self.times_s)


def time_call(fn) -> tuple[object, float]:
    """(fn(), wall seconds). The contract returns NumPy arrays, so the work is done on return
    (on a GPU too: copying the results back waits for the device's kernels)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def time_repeats(fn, repeats: int, deadline: float | None = None, min_repeats: int | None = None,
                 enough_s: float = float("inf")) -> Timing:
    """Time up to `repeats` calls of fn (wall and process CPU). After `min_repeats` calls
    (default: all `repeats`), stop as soon as the calls so far took `enough_s` seconds, as
    timeit's autorange and pytest-benchmark's max_time do: a long call is timed fewer
    times, a short one `repeats` times. Stop early (at least one call) once
    time.monotonic() passes deadline. Keeps the first call's result."""
    times, cpus, first = [], [], None
    least = repeats if min_repeats is None else min(min_repeats, repeats)
    for index in range(repeats):
        cpu_start = time.process_time()
        result, wall = time_call(fn)
        cpus.append(time.process_time() - cpu_start)
        times.append(wall)
        if index == 0:
            first = result
        del result
        if deadline is not None and time.monotonic() > deadline:
            break
        if len(times) >= least and sum(times) >= enough_s:
            break
    return Timing(tuple(times), tuple(cpus), first)
