"""The measuring process: `python -m bptt_bench.measure.worker` reads a job (JSON) on stdin and
prints JSON result lines. Its environment is set by the parent; it pins itself to its CPUs
before importing any framework.

Jobs: {"cells": [CellSpec fields, ...]} (one implementation, one thread count: one result line
per cell, in order), or {"peak": impl, "dtype", "threads", "device"} (GEMM peak, one line).

Cells are measured by a fork server: the worker imports the framework once, then forks a
fresh process per cell, before any framework thread pool or backend exists. Each cell so
starts from the same state a fresh interpreter would reach after the import (its own
address space, compilations, allocator and high-water mark: its memory and compile time
are its own), without paying the interpreter's start-up and the import again (0.4 s for
NumPy, 1.1 s for PyTorch on the reference machine). A cell that crashes, is killed or
runs past its limit ends only its own process; the server records why and goes on.
"""

from __future__ import annotations

import ctypes
import gc
import json
import math
import os
import signal
import sys
import time

from .environment import environment_in_force, pin_to_cpus
from .memory import own_inherited_pages
from .process import KILL_GRACE_S, PARENT_PID_VARIABLE, chunks_until, killed_result, oom_kill_count, utc_now

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def timed_computation(impl, spec, params, x, y, mask):
    """The computation a row times, as a call (its result gives the row's loss and gradient norm).

    Training mode (every method): training on one sequence, `impl.train` (BPTT: one
    update; TBPTT: ceil(T/k1) updates). Gradient mode: the loss and the (accumulated)
    gradient, no update.
    """
    options = {key: getattr(spec, key) for key in ("k1", "k2", "segment") if getattr(spec, key) is not None}
    options["cell"] = spec.cell
    options["device"] = spec.device
    if spec.mode == "gradient":
        return lambda: impl.loss_and_grad(params, x, y, mask, method=spec.method, **options)
    return lambda: impl.train(params, x, y, mask, spec.method, lr=spec.lr, **options)


def loss_and_grad_norm(spec, params, result) -> tuple[float, float]:
    """The row's loss and gradient norm, from what one timed call returned.

    Training mode: the sum of the segment losses L_j, and ||theta_0 - theta_end|| / lr, the
    norm of the summed applied gradients (BPTT: exactly the gradient norm).
    """
    if spec.mode == "gradient":
        loss, grads = result
    else:
        losses, new_params = result
        loss = math.fsum(losses)
        grads = {key: (params[key].astype("float64") - new_params[key]) / spec.lr for key in params}
    return float(loss), math.sqrt(math.fsum(float((g.astype("float64") ** 2).sum()) for g in grads.values()))


def measure(spec) -> dict:
    """Warm-up (compilation included; the framework's own memory figure is taken here), then
    the timed repeats, which also give the peak RSS (above the RSS before the warm-up; see
    memory.py), the loss and the gradient norm."""
    import implementations
    from bptt_bench.problems import random_problem

    from .memory import PeakRSS, resident_bytes
    from .timing import time_call, time_repeats

    from implementations.contract import check_device

    impl = implementations.load(spec.impl)
    try:
        check_device(spec.device, impl)
    except ValueError as error:  # no GPU here, or numpy asked for one: a row that says so, never a CPU run
        return {"status": "skipped", "reason": str(error)}
    impl.set_threads(spec.threads)
    params, x, y, mask = random_problem(spec.T, spec.B, spec.D, spec.H, spec.O, spec.dtype, seed=spec.seed,
                                        cell=spec.cell)
    run = timed_computation(impl, spec, params, x, y, mask)
    deadline = time.monotonic() + spec.time_limit_s
    setup_s = time.monotonic() - STARTED
    baseline_rss = resident_bytes()

    (_, first_s), framework_peak = impl.measure_peak_bytes(lambda: time_call(run), inputs=(x, y, mask),
                                                          device=spec.device)
    if time.monotonic() > deadline:
        return {"status": "timeout", "reason": f"warm-up alone took {first_s:.3g} s > time limit {spec.time_limit_s:.3g} s",
                "setup_s": setup_s}
    with PeakRSS(baseline_rss) as peak_rss:
        timing = time_repeats(run, spec.repeats, deadline, spec.min_repeats, spec.repeat_time_s)
    if time.monotonic() > deadline:
        return {"status": "timeout", "n_repeats": timing.n_repeats, "setup_s": setup_s, "time_median_s": timing.median_s,
                "time_iqr_s": timing.iqr_s, "time_min_s": timing.min_s, "n_outliers": timing.n_outliers,
                "reason": f"time limit {spec.time_limit_s:.3g} s reached after {timing.n_repeats} of {spec.repeats} "
                          "repeats"}
    loss, grad_norm = loss_and_grad_norm(spec, params, timing.first_result)

    status, reason = "ok", ""
    if not (math.isfinite(loss) and math.isfinite(grad_norm)):
        status, reason = "nan", f"non-finite loss {loss} or gradient norm {grad_norm}"
    return {
        "status": status, "reason": reason, "n_repeats": timing.n_repeats,
        "time_median_s": timing.median_s, "time_iqr_s": timing.iqr_s, "time_min_s": timing.min_s,
        "n_outliers": timing.n_outliers, "time_total_s": math.fsum(timing.times_s), "cpu_s": timing.cpu_median_s, "cpu_per_wall": timing.cpu_per_wall,
        "compile_s": max(first_s - timing.median_s, 0.0) if impl.compiles else 0.0,
        "setup_s": setup_s, "peak_rss_bytes": peak_rss.bytes, "framework_peak_bytes": framework_peak,
        "loss": loss, "grad_norm": grad_norm, "blas": impl.backend_info(), "environment": environment_in_force(),
    }


def measure_peak(job) -> dict:
    import implementations

    from .peak import matmul_gflops

    from implementations.contract import check_device

    impl = implementations.load(job["peak"])
    device = job.get("device", "cpu")
    try:
        check_device(device, impl)
    except ValueError as error:
        return {"status": "skipped", "reason": str(error)}
    impl.set_threads(job["threads"])
    return {"gflops": matmul_gflops(impl, dtype=job["dtype"], device=device), "blas": impl.backend_info()}


def run_job(job: dict) -> dict:
    """The result of one job; an exception becomes a status and a reason, never a crash."""
    try:
        if "peak" in job:
            return measure_peak(job)
        from .cell import CellSpec

        return measure(CellSpec(**job))
    except MemoryError as error:
        return {"status": "oom", "reason": f"MemoryError: {error}"}
    except Exception as error:  # a failing cell is a row with its reason, never a crashed study
        status = "oom" if out_of_device_memory(error) else "error"
        return {"status": status, "reason": f"{type(error).__name__}: {error}"[:2000]}


def out_of_device_memory(error: BaseException) -> bool:
    """A GPU allocation failure: torch.cuda.OutOfMemoryError, or XLA's RESOURCE_EXHAUSTED (by name
    and message, so that no framework is imported here)."""
    return type(error).__name__ == "OutOfMemoryError" or "RESOURCE_EXHAUSTED" in str(error)


def die_with_parent(parent: int | None = None) -> None:
    """Ask the kernel for SIGKILL when the parent dies (Linux); exit now if it already has.

    parent: the expected parent's PID (default: the one the starting process recorded)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    parent = parent if parent is not None else os.environ.get(PARENT_PID_VARIABLE)
    if parent and os.getppid() != int(parent):
        os._exit(1)


def serve_cells(specs: list[dict], results) -> None:
    """Import the cells' framework once, then measure each cell in a forked process of its own,
    writing one JSON line per cell to `results` (a text file) as soon as it is known."""
    try:
        import implementations

        # the framework module, and what its first call of a method would import, before any fork
        implementations.load(specs[0]["impl"]).prepare({spec["method"] for spec in specs})
        from bptt_bench import problems  # noqa: F401 - what every cell imports, imported once
        from . import cell, timing  # noqa: F401
        failure = None
    except Exception as error:  # every cell then says why
        failure = {"status": "error", "reason": f"{type(error).__name__}: {error}"[:2000]}
    import_s = time.monotonic() - STARTED
    gc.collect()
    gc.freeze()  # the children's collector then leaves the imported objects (and their pages) alone
    for index, spec in enumerate(specs):
        result = dict(failure) if failure else measure_in_child(spec)
        # The worker's start-up and import, paid once, are charged to the first cell it measured.
        result["import_s"] = import_s if index == 0 else 0.0
        result.setdefault("setup_s", 0.0)
        results.write(json.dumps(result) + "\n")
        results.flush()


def measure_in_child(spec: dict) -> dict:
    """run_job(spec) in a forked process; its result, or why it has none ('timeout', 'killed',
    'oom', 'error'), with 'cell_wall_s': fork to result."""
    started = time.monotonic()
    oom_kills = oom_kill_count()
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the cell's process: never returns
        os.close(read_end)
        status = 1
        try:
            die_with_parent(parent)
            global STARTED
            STARTED = time.monotonic()
            own_inherited_pages(parent)  # the pages a fresh process would have after the imports
            payload = json.dumps(run_job(spec)).encode()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    limit_s = spec["time_limit_s"] + KILL_GRACE_S
    payload, timed_out = _read_until(read_end, started + limit_s)
    os.close(read_end)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, wait_status = os.waitpid(pid, 0)
    ended = {"cell_wall_s": time.monotonic() - started, "utc_time": utc_now()}
    if timed_out:
        return {"status": "timeout", "reason": f"cell still running after {limit_s:.3g} s; killed"} | ended
    if os.WIFSIGNALED(wait_status):
        return killed_result(os.WTERMSIG(wait_status), oom_kills, oom_kill_count()) | ended
    try:
        return json.loads(payload) | ended
    except json.JSONDecodeError:
        code = os.WEXITSTATUS(wait_status)
        return {"status": "error", "reason": f"cell process exited with status {code} and no result (see the log)"} | ended


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Everything written to fd until its writer closes it, or (what came, True) at the deadline."""
    chunks = list(chunks_until(fd, deadline))
    timed_out = bool(chunks) and chunks[-1] is None
    return b"".join(chunks[:-1] if timed_out else chunks), timed_out


def main() -> None:
    die_with_parent()
    job = json.loads(sys.stdin.read())
    pin_to_cpus(job["threads"])
    # Results go to the original stdout; whatever a framework prints goes to stderr.
    results = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    if "cells" in job:
        serve_cells(job["cells"], results)
    else:
        results.write(json.dumps(run_job(job)) + "\n")
    results.flush()


STARTED = time.monotonic()

if __name__ == "__main__":
    main()
