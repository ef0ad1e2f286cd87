"""Peak resident memory of this process, with a resettable high-water mark (Linux)."""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def _status_bytes(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise KeyError(field)


def _return_freed_memory() -> None:
    """Make glibc give freed buffers back to the OS from now on, and give back what it holds.

    Otherwise memory freed by the warm-up stays resident, the next pass reuses it, and the
    high-water mark does not move: the pass's own peak would read as ~0.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt(_M_MMAP_THRESHOLD, 64 * 1024)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakRSS:
    """Context manager: `.bytes` is the peak RSS inside the block minus the RSS when it began
    (None where the high-water mark cannot be reset)."""

    def __enter__(self):
        _return_freed_memory()
        self.bytes = None
        try:
            self._baseline = _status_bytes("VmRSS")
            _CLEAR_REFS.write_text("5")  # resets VmHWM to the current RSS
        except (OSError, KeyError):
            self._baseline = None
        return self

    def __exit__(self, *exc_info):
        if self._baseline is not None:
            self.bytes = max(_status_bytes("VmHWM") - self._baseline, 0)
        return False


def measure_peak_rss(fn) -> tuple[object, int | None]:
    """(fn(), peak RSS during fn minus RSS just before it); None where the mark cannot be reset."""
    with PeakRSS() as peak:
        result = fn()
    return result, peak.bytes
