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


def cell_environment(threads: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment variables for a process computing with `threads` threads.

    OpenBLAS's runtime detection does not know every CPU (on AMD Zen 5 it falls back to
    its Haswell kernels, half the AVX-512 throughput), so where the CPU has AVX-512 and
    the user has not chosen, it is told to use its SkylakeX kernels.
    """
    env = dict(os.environ if base is None else base)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    env["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} intra_op_parallelism_threads={threads}"
    if AVX512_FLAGS <= cpu_flags():
        env.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
    return env


def pin_to_cpus(threads: int) -> list[int]:
    """Restrict this process to `threads` of the CPUs it may use (all frameworks obey affinity)."""
    allowed = sorted(os.sched_getaffinity(0))
    if threads > len(allowed):
        raise ValueError(f"threads={threads} but only {len(allowed)} CPUs are available")
    chosen = allowed[:threads]
    os.sched_setaffinity(0, chosen)
    return chosen
