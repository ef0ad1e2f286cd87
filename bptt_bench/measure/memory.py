"""Peak resident memory of this process, with a resettable high-water mark (Linux).

A cell's peak RSS is taken around its timed repeats, without an extra pass:

    baseline = resident_bytes()        # after imports and the problem's arrays
    ... warm-up (JAX compiles here) ...
    reset_high_water()                 # free what the allocator holds; VmHWM := VmRSS
    ... timed repeats ...
    peak = high_water_bytes() - baseline

so the figure is what the steady-state computation holds above the process's
baseline (compiled programs and anything the framework keeps between calls
included), and a compiler's transient memory is not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_bytes(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise KeyError(field)


def _give_back_freed_memory() -> None:
    """Make glibc return the free memory it holds to the OS (every arena).

    Otherwise memory freed by the warm-up stays resident, the next pass reuses it, and the
    high-water mark does not move. Unlike a lowered mmap threshold, this leaves the
    allocator's behaviour during the timed repeats as it is.
    """
    try:
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def resident_bytes() -> int | None:
    """VmRSS of this process; None where /proc does not say."""
    try:
        return _status_bytes("VmRSS")
    except (OSError, KeyError):
        return None


def reset_high_water() -> bool:
    """Give freed memory back and reset VmHWM to the current RSS; False where the kernel does not allow it."""
    _give_back_freed_memory()
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def high_water_bytes() -> int | None:
    try:
        return _status_bytes("VmHWM")
    except (OSError, KeyError):
        return None


class PeakRSS:
    """Context manager: `.bytes` is the peak RSS inside the block minus `baseline` (default: the
    RSS when the block began); None where the high-water mark cannot be reset."""

    def __init__(self, baseline: int | None = None):
        self._baseline = baseline
        self.bytes = None

    def __enter__(self):
        if self._baseline is None:
            _give_back_freed_memory()
            self._baseline = resident_bytes()
        self._reset = reset_high_water() and self._baseline is not None
        return self

    def __exit__(self, *exc_info):
        high = high_water_bytes()
        if self._reset and high is not None:
            self.bytes = max(high - self._baseline, 0)
        return False


def measure_peak_rss(fn) -> tuple[object, int | None]:
    """(fn(), peak RSS during fn minus RSS just before it); None where the mark cannot be reset."""
    with PeakRSS() as peak:
        result = fn()
    return result, peak.bytes
