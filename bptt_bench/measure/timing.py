"""Repeated timing and its statistics (median, IQR, min, outliers), pytest-benchmark style."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Timing:
    times_s: tuple[float, ...]

    @property
    def n_repeats(self) -> int:
        return len(self.times_s)

    @property
    def median_s(self) -> float:
        return float(np.median(self.times_s))

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


def time_repeats(fn, repeats: int, deadline: float | None = None) -> Timing:
    """Time `repeats` calls of fn; stop early (at least one call) once time.monotonic() passes deadline."""
    times = []
    for _ in range(repeats):
        times.append(time_call(fn)[1])
        if deadline is not None and time.monotonic() > deadline:
            break
    return Timing(tuple(times))
