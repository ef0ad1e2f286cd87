"""Running a job in a fresh worker process with the cell environment (one framework per process).

The worker never outlives the process that started it: it asks the kernel for SIGKILL
when its parent dies (PR_SET_PDEATHSIG, in the worker), so a job killed by Snakemake,
SLURM or a user takes its worker with it and the next timed cell runs alone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from .environment import cell_environment

PARENT_PID_VARIABLE = "BPTT_BENCH_PARENT_PID"  # the worker exits at once if its parent is already gone


def run_in_worker(job: dict, threads: int, timeout_s: float) -> dict:
    """The worker's JSON result, or {'status': 'timeout'|'oom'|'killed'|'error', 'reason': ...}; adds 'cell_wall_s'."""
    started = time.monotonic()
    oom_kills = oom_kill_count()
    env = cell_environment(threads) | {PARENT_PID_VARIABLE: str(os.getpid())}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bptt_bench.measure.worker"], input=json.dumps(job),
            capture_output=True, text=True, timeout=timeout_s, env=env,
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "reason": f"worker still running after {timeout_s:.3g} s; killed",
                "cell_wall_s": time.monotonic() - started}
    wall = time.monotonic() - started
    if done.returncode < 0:
        return killed_result(-done.returncode, oom_kills, oom_kill_count()) | {"cell_wall_s": wall}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1]) | {"cell_wall_s": wall}
    except (IndexError, json.JSONDecodeError):
        tail = " | ".join((done.stderr or "").strip().splitlines()[-3:])
        return {"status": "error", "reason": f"worker exit {done.returncode}: {tail}", "cell_wall_s": wall}


def killed_result(signal_number: int, oom_kills_before: int | None, oom_kills_after: int | None) -> dict:
    """A worker ended by a signal: 'oom' only where the kernel's OOM counter moved meanwhile."""
    name = signal.Signals(signal_number).name if signal_number in signal.Signals._value2member_map_ else str(signal_number)
    if None not in (oom_kills_before, oom_kills_after) and oom_kills_after > oom_kills_before:
        return {"status": "oom", "reason": f"worker killed by {name}; the kernel's OOM killer ran meanwhile "
                                           f"(oom_kill {oom_kills_before} -> {oom_kills_after})"}
    return {"status": "killed", "reason": f"worker killed by signal {name} (no record of the kernel's OOM killer)"}


def oom_kill_count() -> int | None:
    """The kernel's count of OOM kills in this process's memory cgroup (v2 or v1), None where unreadable."""
    for path in _memory_event_files():
        try:
            match = re.search(r"^oom_kill (\d+)$", path.read_text(), re.MULTILINE)
        except OSError:
            continue
        if match:
            return int(match.group(1))
    return None


def _memory_event_files() -> list[Path]:
    root = Path("/sys/fs/cgroup")
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    files = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":  # cgroup v2
            files += [root / relative / "memory.events", root / "memory.events"]
        elif "memory" in controllers.split(","):
            files += [root / "memory" / relative / "memory.oom_control", root / "memory" / "memory.oom_control"]
    return files
