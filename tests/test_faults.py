"""Faults a study must survive (docs/measurement.md, Faults): real runs of cells, workers and the workflow.

A cell's job is played by a Python process calling measure_cell, as the rule's script does.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from bptt_bench.costmodel import cost
from implementations.schedule import tbptt_schedule

ROOT = Path(__file__).resolve().parents[1]
JOB = """
import json, sys
from bptt_bench.measure.cell import CellSpec, measure_cell
print(json.dumps(measure_cell(CellSpec(**json.loads(sys.argv[1])))), flush=True)
"""
# Long enough to be killed mid-way: 0.1 s passes, repeated until the 120 s limit.
LONG = dict(impl="numpy", method="bptt", T=2000, B=32, H=128, D=32, O=32, repeats=100_000, min_repeats=100_000,
            time_limit_s=120)


def start_job(spec: dict) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", JOB, json.dumps(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def children(pid: int) -> list[int]:
    """PIDs of the live processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for_worker(job: subprocess.Popen, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        workers = children(job.pid)
        if workers:
            time.sleep(3)  # past its start-up: the worker is measuring
            return workers[0]
        time.sleep(0.1)
    raise AssertionError("no worker process appeared")


def test_cost_model_is_closed_form_and_matches_the_schedule():
    for T in range(1, 40):
        for k1 in range(1, 11):
            for k2 in range(1, 13):
                updates = list(tbptt_schedule(T, k1, k2))
                model = cost("tbptt", T, 1, 1, 1, 1, k1=k1, k2=k2)
                assert model.forward_steps == sum(u.window_length for u in updates), (T, k1, k2)
                assert model.backward_steps == sum(u.n_backward for u in updates), (T, k1, k2)
                assert model.activation_bytes == max(u.n_backward for u in updates) * 4, (T, k1, k2)


def test_nothing_a_cell_does_escapes_its_time_limit():
    """Issue: the cost model walked 1.25e10 updates in the job, past any limit, before the worker started."""
    limit_s = 5
    job = start_job(dict(impl="numpy", method="tbptt", T=10**11, k1=8, k2=8, B=32, H=4, D=32, O=4,
                         time_limit_s=limit_s, memory_budget_bytes=None))
    started = time.monotonic()
    try:
        out, err = job.communicate(timeout=limit_s + 30 + 30)  # KILL_GRACE_S and start-up on a busy machine
    finally:
        job.kill()
    row = json.loads(out.splitlines()[-1])
    assert row["status"] in ("oom", "timeout"), row["reason"]
    assert time.monotonic() - started < limit_s + 60


def test_a_killed_job_takes_its_worker_with_it():
    job = start_job(LONG)
    worker = wait_for_worker(job)
    try:
        job.kill()
        job.wait()
        deadline = time.monotonic() + 10
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(worker), "the worker outlived its job"
    finally:
        if alive(worker):
            os.kill(worker, signal.SIGKILL)


def test_sigkill_from_anyone_is_killed_not_oom():
    job = start_job(LONG)
    try:
        os.kill(wait_for_worker(job), signal.SIGKILL)
        out, _ = job.communicate(timeout=60)
    finally:
        job.kill()
    row = json.loads(out.splitlines()[-1])
    assert row["status"] == "killed" and "SIGKILL" in row["reason"], row


def test_oom_needs_evidence():
    from bptt_bench.measure.process import killed_result, oom_kill_count

    assert killed_result(signal.SIGKILL, 3, 4)["status"] == "oom"
    assert killed_result(signal.SIGKILL, 3, 3)["status"] == "killed"
    assert killed_result(signal.SIGTERM, None, None) == {
        "status": "killed", "reason": "worker killed by signal SIGTERM (no record of the kernel's OOM killer)"}
    count = oom_kill_count()
    assert count is None or count >= 0


def test_timeout_reason_shows_the_digits():
    from bptt_bench.measure.cell import CellSpec, measure_cell

    row = measure_cell(CellSpec(impl="numpy", method="bptt", T=16, B=2, H=4, D=3, O=3, time_limit_s=1e-6))
    took = re.search(r"took (\S+) s > time limit 1e-06 s", row["reason"])
    assert row["status"] == "timeout" and took and float(took.group(1)) > 0, row["reason"]  # was "took 0.0 s"


def test_read_only_inputs_do_not_warn(recwarn):
    import implementations
    from bptt_bench.problems import random_problem

    params, x, y, mask = random_problem(8, 2, 3, 4, 5, "float32", seed=0)
    for array in (x, y, mask, *params.values()):
        array.setflags(write=False)
    for name in implementations.NAMES:
        implementations.load(name).loss_and_grad(params, x, y, mask)
    assert not [w for w in recwarn if "not writable" in str(w.message)]


BLOCK_JOB = """
import json, sys
from bptt_bench.measure.cell import CellSpec, measure_cells
rows = measure_cells([CellSpec(**spec) for spec in json.loads(sys.argv[1])])
print(json.dumps(rows), flush=True)
"""


def test_a_killed_cell_ends_only_itself_and_the_block_goes_on():
    """The worker forks a process per cell: killing one cell's process leaves a 'killed' row for it
    and the cells after it are measured by the same worker, in processes of their own."""
    tiny = dict(impl="numpy", method="bptt", T=16, B=2, H=4, D=3, O=3, repeats=2)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    job = subprocess.Popen([sys.executable, "-c", BLOCK_JOB, json.dumps([tiny, LONG, tiny])], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env)
    try:
        worker = wait_for_worker(job)
        deadline = time.monotonic() + 60
        while not children(worker) and time.monotonic() < deadline:  # the LONG cell's own process
            time.sleep(0.1)
        cell = children(worker)[0]
        time.sleep(1)
        os.kill(cell, signal.SIGKILL)
        out, _ = job.communicate(timeout=120)
    finally:
        job.kill()
    first, long, last = json.loads(out.splitlines()[-1])
    assert first["status"] == last["status"] == "ok", (first["reason"], last["reason"])
    assert long["status"] == "killed" and "SIGKILL" in long["reason"], long
    assert alive(worker) is False and first["import_s"] > 0 and last["import_s"] == 0  # one worker, one import
