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
import os
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


MADV_POPULATE_READ, MADV_POPULATE_WRITE = 22, 23  # linux/mman.h, Linux >= 5.14
PRESENT = 1 << 63  # /proc/pid/pagemap (Documentation/admin-guide/mm/pagemap.rst)
SPECIAL_MAPPINGS = ("[vvar]", "[vvar_vclock]", "[vsyscall]", "[vdso]")


def own_inherited_pages(parent: int) -> int | None:
    """After a fork: make resident now every page that was resident in `parent`, and copy
    every private writable one; the bytes made so, None where the kernel cannot (no
    pagemap access, or Linux < 5.14).

    A forked child starts without the parent's file-backed pages mapped (the kernel does
    not copy those page tables) and shares its private pages copy-on-write. A cell would
    then map or copy them inside its measurement, when it first runs code or writes data
    that the import had already made resident: measured at H = 256, T = 1024, JAX's peak
    RSS was 33 MB above a fresh process's. After this call the child's pages are what a
    fresh process has after the same imports, and its RSS grows only as a fresh one's would.
    """
    import numpy as np

    page = os.sysconf("SC_PAGE_SIZE")
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    made = 0
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
        with open(f"/proc/{parent}/pagemap", "rb", buffering=0) as pagemap:
            for line in maps:
                fields = line.split()
                perms, name = fields[1], fields[-1] if len(fields) > 5 else ""
                if perms[0] != "r" or name in SPECIAL_MAPPINGS or name.startswith("/dev/"):
                    continue
                lo, hi = (int(value, 16) for value in fields[0].split("-"))
                pagemap.seek(lo // page * 8)
                present = (np.frombuffer(pagemap.read((hi - lo) // page * 8), dtype=np.uint64) >> np.uint64(63)) == 1
                advice = MADV_POPULATE_WRITE if perms[1] == "w" and perms[3] == "p" else MADV_POPULATE_READ
                edges = np.flatnonzero(np.diff(np.concatenate(([0], present.view(np.int8), [0]))))
                for start, stop in zip(edges[::2], edges[1::2]):  # runs [start, stop) of present pages
                    if libc.madvise(lo + int(start) * page, int(stop - start) * page, advice) != 0:
                        return None
                    made += int(stop - start) * page
    except (OSError, ValueError):
        return None
    return made


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
