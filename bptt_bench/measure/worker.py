"""The measuring process: `python -m bptt_bench.measure.worker` reads a job (JSON) on stdin and
prints one JSON result line. Its environment is set by the parent; it pins itself to its CPUs
before importing any framework.

Jobs: a CellSpec (time and memory of one cell), or {"peak": impl, "dtype", "threads"} (GEMM peak).
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import signal
import sys
import time

from .environment import environment_in_force, pin_to_cpus
from .process import PARENT_PID_VARIABLE

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def timed_computation(impl, spec, params, x, y, mask):
    """The computation a row times, as a call (its result gives the row's loss and gradient norm).

    Training mode (every method): training on one sequence, `impl.train` (BPTT: one
    update; TBPTT: ceil(T/k1) updates). Gradient mode: the loss and the (accumulated)
    gradient, no update.
    """
    options = {key: getattr(spec, key) for key in ("k1", "k2", "segment") if getattr(spec, key) is not None}
    options["cell"] = spec.cell
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

    impl = implementations.load(spec.impl)
    impl.set_threads(spec.threads)
    params, x, y, mask = random_problem(spec.T, spec.B, spec.D, spec.H, spec.O, spec.dtype, seed=spec.seed,
                                        cell=spec.cell)
    run = timed_computation(impl, spec, params, x, y, mask)
    deadline = time.monotonic() + spec.time_limit_s
    setup_s = time.monotonic() - STARTED
    baseline_rss = resident_bytes()

    (_, first_s), framework_peak = impl.measure_peak_bytes(lambda: time_call(run), inputs=(x, y, mask))
    if time.monotonic() > deadline:
        return {"status": "timeout", "reason": f"warm-up alone took {first_s:.3g} s > time limit {spec.time_limit_s:.3g} s",
                "setup_s": setup_s}
    with PeakRSS(baseline_rss) as peak_rss:
        timing = time_repeats(run, spec.repeats, deadline)
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

    impl = implementations.load(job["peak"])
    impl.set_threads(job["threads"])
    return {"gflops": matmul_gflops(impl, dtype=job["dtype"]), "blas": impl.backend_info()}


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
        return {"status": "error", "reason": f"{type(error).__name__}: {error}"}


def die_with_parent() -> None:
    """Ask the kernel for SIGKILL when the parent dies (Linux); exit now if it already has."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    parent = os.environ.get(PARENT_PID_VARIABLE)
    if parent and os.getppid() != int(parent):
        os._exit(1)


def main() -> None:
    die_with_parent()
    job = json.loads(sys.stdin.read())
    pin_to_cpus(job["threads"])
    print(json.dumps(run_job(job)))


STARTED = time.monotonic()

if __name__ == "__main__":
    main()
