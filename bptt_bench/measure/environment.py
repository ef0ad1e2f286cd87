"""The process environment a measured cell runs in: threads, CPU affinity, BLAS kernel."""

from __future__ import annotations

import os
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
