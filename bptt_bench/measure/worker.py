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

from .environment import pin_to_cpus
from .process import PARENT_PID_VARIABLE

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def measure(spec) -> dict:
    """Warm-up (compilation included), timed repeats, then one pass each for peak RSS and the
    framework's own memory figure, then the loss and gradient norm (gradient mode for TBPTT)."""
    import implementations
    from bptt_bench.problems import random_problem

    from .memory import measure_peak_rss
    from .timing import time_call, time_repeats

    impl = implementations.load(spec.impl)
    impl.set_threads(spec.threads)
    params, x, y, mask = random_problem(spec.T, spec.B, spec.D, spec.H, spec.O, spec.dtype, seed=spec.seed)
    truncation = {"k1": spec.k1, "k2": spec.k2} if spec.method == "tbptt" else {}
    if spec.method == "checkpointed":
        truncation = {"segment": spec.segment}
    if spec.method != "tbptt":
        run = lambda: impl.loss_and_grad(params, x, y, mask, method=spec.method, **truncation)  # noqa: E731
    else:
        run = lambda: impl.train_tbptt(params, x, y, mask, lr=spec.lr, **truncation)  # noqa: E731
    deadline = time.monotonic() + spec.time_limit_s
    setup_s = time.monotonic() - STARTED

    _, first_s = time_call(run)
    if time.monotonic() > deadline:
        return {"status": "timeout", "reason": f"warm-up alone took {first_s:.3g} s > time limit {spec.time_limit_s:.3g} s",
                "setup_s": setup_s}
    timing = time_repeats(run, spec.repeats, deadline)
    if time.monotonic() > deadline:  # the memory passes would run past the limit: not measured
        return {"status": "timeout", "n_repeats": timing.n_repeats, "setup_s": setup_s, "time_median_s": timing.median_s,
                "time_iqr_s": timing.iqr_s, "time_min_s": timing.min_s, "n_outliers": timing.n_outliers,
                "reason": f"time limit {spec.time_limit_s:.3g} s reached after {timing.n_repeats} of {spec.repeats} "
                          "repeats; memory not measured"}
    _, peak_rss = measure_peak_rss(run)
    _, framework_peak = impl.measure_peak_bytes(run, inputs=(x, y, mask))
    loss, grads = impl.loss_and_grad(params, x, y, mask, method=spec.method, **truncation)
    grad_norm = math.sqrt(math.fsum(float((g.astype("float64") ** 2).sum()) for g in grads.values()))

    status, reason = "ok", ""
    if not (math.isfinite(loss) and math.isfinite(grad_norm)):
        status, reason = "nan", f"non-finite loss {loss} or gradient norm {grad_norm}"
    return {
        "status": status, "reason": reason, "n_repeats": timing.n_repeats,
        "time_median_s": timing.median_s, "time_iqr_s": timing.iqr_s, "time_min_s": timing.min_s,
        "n_outliers": timing.n_outliers, "compile_s": max(first_s - timing.median_s, 0.0) if impl.compiles else 0.0,
        "setup_s": setup_s, "peak_rss_bytes": peak_rss, "framework_peak_bytes": framework_peak,
        "loss": loss, "grad_norm": grad_norm, "blas": impl.backend_info(),
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
