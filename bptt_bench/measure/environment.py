"""The process environment a measured cell runs in: threads, CPU affinity, BLAS kernel."""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

AVX512_FLAGS = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
RECORDED_VARIABLES = THREAD_VARIABLES + ("OMP_WAIT_POLICY", "OPENBLAS_CORETYPE", "XLA_FLAGS")


def cell_environment(threads: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment variables for a process computing with `threads` threads.

    The thread counts are the cell's: its row says `threads`, and the variables found in
    a job's environment are usually not a user's choice for the cell (Snakemake sets
    OMP_NUM_THREADS etc. to the rule's threads, all cores, in every job). The user's
    other settings win: OMP_WAIT_POLICY and OPENBLAS_CORETYPE are only set where absent,
    and XLA_FLAGS is extended, never replaced. The row records what was in force. What
    bounds the cores a cell uses is its CPU affinity (pin_to_cpus), which every
    framework obeys.

    OpenBLAS's runtime detection does not know every CPU (on AMD Zen 5 it falls back to
    its Haswell kernels, half the AVX-512 throughput), so where the CPU has AVX-512 and
    the user has not chosen, it is told to use its SkylakeX kernels.
    """
    env = dict(os.environ if base is None else base)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env["XLA_FLAGS"] = extend_xla_flags(env.get("XLA_FLAGS", ""), threads)
    if AVX512_FLAGS <= cpu_flags():
        env.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
    return env


def extend_xla_flags(flags: str, threads: int) -> str:
    """The user's XLA_FLAGS plus Eigen's multi-threading switch, unless the user set it.

    Measured (docs/measurement.md): with jaxlib 0.10 the switch does not change how many
    threads a dot uses; the CPU affinity does. It stays for XLA's Eigen-backed ops.
    """
    if "--xla_cpu_multi_thread_eigen" in flags:
        return flags
    own = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
    return f"{flags} {own}".strip()


def environment_in_force() -> str:
    """The recorded variables of this process, 'NAME=value' joined by '; ' (unset ones left out)."""
    return "; ".join(f"{name}={os.environ[name]}" for name in RECORDED_VARIABLES if name in os.environ)


def pin_to_cpus(threads: int) -> list[int]:
    """Restrict this process to `threads` of the CPUs it may use (all frameworks obey affinity)."""
    allowed = sorted(os.sched_getaffinity(0))
    if threads > len(allowed):
        raise ValueError(f"threads={threads} but only {len(allowed)} CPUs are available")
    chosen = allowed[:threads]
    os.sched_setaffinity(0, chosen)
    return chosen


# CPU slots of the one-thread jobs that run side by side (learning parts, paper experiments): one lock
# file per CPU, held by the job pinned there until its process ends (the kernel drops a dead one's lock).
CPU_SLOTS = Path(tempfile.gettempdir()) / f"bptt-bench-cpus-{os.getuid()}"
_held_slots = []


def enter_job(threads: int, slots: Path = CPU_SLOTS) -> int | None:
    """Set this job's environment (cell_environment) and, for a one-thread job, pin it to a CPU that
    no other such job holds; returns that CPU, or None (several threads, or every CPU taken).

    Snakemake runs one-thread jobs side by side, one per core, but does not say which core: unpinned,
    XLA's and the BLAS's pools spread each over both cores of a 2-core machine and wait on each other
    (two learnable-lag parts side by side: 23.1 s unpinned, 18.9 s pinned apart). Call it before any
    framework is imported.
    """
    os.environ.update(cell_environment(threads))
    if threads != 1:
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) == 1:
        return allowed[0]
    slots.mkdir(parents=True, exist_ok=True)
    for cpu in allowed:
        handle = open(slots / f"cpu{cpu}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _held_slots.append(handle)
        os.sched_setaffinity(0, [cpu])
        return cpu
    return None
