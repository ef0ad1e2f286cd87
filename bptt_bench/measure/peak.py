"""The machine's matmul peak: the best large-GEMM throughput any implementation's BLAS reaches.

Measured through the contract's own arrays (`impl.to_native`, `@`, `impl.to_numpy`), so
no framework is imported here.
"""

from __future__ import annotations

import platform

import numpy as np

from .process import run_in_worker
from .provenance import cpu_model
from .timing import time_call


MATRIX_SIZE = 2048


def matmul_gflops(impl, n: int = MATRIX_SIZE, dtype="float32", repeats: int = 7) -> float:
    """Best-of-`repeats` GFLOP/s of an (n,n)@(n,n) product in `impl`'s framework."""
    rng = np.random.default_rng(0)
    with impl.precision(np.dtype(dtype)):
        arrays = impl.to_native({"a": rng.standard_normal((n, n)).astype(dtype), "b": rng.standard_normal((n, n)).astype(dtype)})
        product = lambda: impl.to_numpy({"c": arrays["a"] @ arrays["b"]})  # noqa: E731 - to_numpy waits for the result
        product()
        best = min(time_call(product)[1] for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def machine_peak(impls, dtype="float32", threads: int = 1, timeout_s: float = 300) -> dict:
    """GEMM GFLOP/s of each implementation (own process each) and the best of them, the machine's peak.

    The record names the node and CPU model it was measured on: a peak belongs to one kind of CPU.
    """
    per_impl = {}
    for name in impls:
        result = run_in_worker({"peak": name, "dtype": dtype, "threads": threads}, threads, timeout_s)
        if "gflops" not in result:
            raise RuntimeError(f"peak measurement failed for {name}: {result.get('reason')}")
        per_impl[name] = {"gflops_per_s": result["gflops"], "backend": result["blas"]}
    best = max(per_impl, key=lambda name: per_impl[name]["gflops_per_s"])
    return {"dtype": dtype, "threads": threads, "matrix_size": MATRIX_SIZE, "peak_gflops_per_s": per_impl[best]["gflops_per_s"],
            "peak_impl": best, "per_impl": per_impl, "node": platform.node(), "cpu_model": cpu_model()}


def peak_for_this_cpu(peak: dict) -> dict:
    """`peak` if it was measured on this kind of CPU, else the same measurement taken here.

    On a cluster a cell may land on another node type than the peak's: its time is only
    ever divided by the peak of its own CPU model.
    """
    if peak.get("cpu_model") == cpu_model():
        return peak
    return machine_peak(list(peak["per_impl"]), peak["dtype"], peak["threads"])
