"""Running a job in a fresh worker process with the cell environment (one framework per process)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from .environment import cell_environment


def run_in_worker(job: dict, threads: int, timeout_s: float) -> dict:
    """The worker's JSON result, or {'status': 'timeout'|'oom'|'error', 'reason': ...}; adds 'cell_wall_s'."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bptt_bench.measure.worker"], input=json.dumps(job),
            capture_output=True, text=True, timeout=timeout_s, env=cell_environment(threads),
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "reason": f"worker killed after {timeout_s:.0f} s"}
    wall = time.monotonic() - started
    if done.returncode == -9:
        return {"status": "oom", "reason": "worker killed by SIGKILL (out of memory?)", "cell_wall_s": wall}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1]) | {"cell_wall_s": wall}
    except (IndexError, json.JSONDecodeError):
        tail = " | ".join((done.stderr or "").strip().splitlines()[-3:])
        return {"status": "error", "reason": f"worker exit {done.returncode}: {tail}", "cell_wall_s": wall}
