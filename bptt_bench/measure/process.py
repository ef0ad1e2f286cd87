"""Running a job in a fresh worker process with the cell environment (one framework per process).

The worker never outlives the process that started it: it asks the kernel for SIGKILL
when its parent dies (PR_SET_PDEATHSIG, in the worker and in each cell process it forks),
so a job killed by Snakemake, SLURM or a user takes its worker with it and the next timed
cell runs alone.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .environment import cell_environment

PARENT_PID_VARIABLE = "BPTT_BENCH_PARENT_PID"  # the worker exits at once if its parent is already gone
KILL_GRACE_S = 30.0  # a cell's set-up, which its own deadline does not count
START_GRACE_S = 60.0  # the worker's start-up and framework import


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


def utc_now() -> str:
    """Now, as the rows' utc_time: ISO 8601 in UTC, to the millisecond."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def run_cells_in_worker(jobs: list[dict], threads: int) -> list[dict]:
    """One result per job (cells of one implementation), measured by one worker (a fork server:
    worker.py). A worker that dies leaves its current cell a 'killed'/'oom'/'error' row; the
    cells after it run in a fresh worker. Each result has 'cell_wall_s' and 'import_s'."""
    results: list[dict] = []
    while len(results) < len(jobs):
        results += _serve(jobs[len(results):], threads)
    return results


def _serve(jobs: list[dict], threads: int) -> list[dict]:
    """Results of a prefix of jobs (at least one) from one worker process."""
    env = cell_environment(threads) | {PARENT_PID_VARIABLE: str(os.getpid())}
    limit_s = START_GRACE_S + sum(job["time_limit_s"] + KILL_GRACE_S for job in jobs)
    started, oom_kills = time.monotonic(), oom_kill_count()
    with tempfile.TemporaryFile("w+") as errors:  # a file: a chatty worker never blocks on a full pipe
        worker = subprocess.Popen([sys.executable, "-m", "bptt_bench.measure.worker"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=errors, env=env)
        worker.stdin.write(json.dumps({"cells": jobs, "threads": threads}).encode())
        worker.stdin.close()
        results, timed_out = [], False
        for line in _lines_until(worker.stdout, started + limit_s):
            if line is None:
                timed_out = True
                worker.kill()
                break
            results.append(json.loads(line))
        worker.wait()
        worker.stdout.close()
        if len(results) == len(jobs):
            return results
        wall = time.monotonic() - started - sum(result["cell_wall_s"] + result["import_s"] for result in results)
        if timed_out:
            failed = {"status": "timeout", "reason": f"worker still running after {limit_s:.3g} s; killed"}
        elif worker.returncode < 0:
            failed = killed_result(-worker.returncode, oom_kills, oom_kill_count())
        else:
            errors.seek(0)
            tail = " | ".join(errors.read().strip().splitlines()[-3:])
            failed = {"status": "error", "reason": f"worker exit {worker.returncode}: {tail}"}
        return results + [failed | {"cell_wall_s": wall, "import_s": 0.0, "utc_time": utc_now()}]


def _lines_until(stream, deadline: float):
    """The lines of a binary stream as they come; None (then stop) at the deadline."""
    buffer = b""
    for chunk in chunks_until(stream.fileno(), deadline):
        if chunk is None:
            yield None
            return
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from (line for line in lines if line.strip())


def chunks_until(fd: int, deadline: float):
    """What is written to fd, chunk by chunk, until its writer closes it; None (then stop) if
    time.monotonic() reaches deadline first."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            yield None
            return
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return
        yield chunk


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
