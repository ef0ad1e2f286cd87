"""The matmul peak of one device and dtype: the best large-GEMM throughput any implementation
reaches there (on the CPU its BLAS, on a GPU its cuBLAS/XLA kernels).

Measured through the contract's own arrays (`impl.to_native`, `@`, `impl.to_numpy`) inside
`impl.on_device`, so no framework is imported here; to_numpy copies the product back to the
host, so each timed product ends when the device has finished it.
"""

from __future__ import annotations

import math
import platform

import numpy as np

from implementations import REGISTRY

from .process import run_in_worker
from .provenance import cpu_model
from .timing import time_call


MATRIX_SIZES = {"cpu": 2048, "cuda": 8192}  # a GPU needs a larger product to reach its rate


def matmul_gflops(impl, n: int | None = None, dtype="float32", repeats: int = 7, device: str = "cpu") -> float:
    """Best-of-`repeats` GFLOP/s of an (n,n)@(n,n) product in `impl`'s framework on `device`."""
    n = n or MATRIX_SIZES[device]
    rng = np.random.default_rng(0)
    with impl.precision(np.dtype(dtype)), impl.on_device(device):
        arrays = impl.to_native({"a": rng.standard_normal((n, n)).astype(dtype), "b": rng.standard_normal((n, n)).astype(dtype)})
        # One element of the product comes back: waiting for it waits for the whole product, and no
        # (n, n) copy to the host is timed with it (on a GPU that copy costs more than the product).
        product = lambda: impl.to_numpy({"c": (arrays["a"] @ arrays["b"])[:1, :1]})  # noqa: E731
        product()
        best = min(time_call(product)[1] for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def machine_peak(impls, dtype="float32", threads: int = 1, timeout_s: float = 300, device: str = "cpu") -> dict:
    """GEMM GFLOP/s of each implementation on `device` (own process per framework: implementations
    of one package share its measurement, marked `measured_as`) and the best of them, the device's
    peak. An implementation that cannot run there (numpy on cuda; no GPU) is listed under
    `skipped` with its reason; with none left the peak is NaN (its cells are skipped rows too).

    The record names the node and CPU model it was measured on: a peak belongs to one kind of CPU.
    """
    per_impl, skipped, by_package = {}, {}, {}
    for name in impls:
        # Implementations of one framework (torch, torch_nn) multiply with the same kernels: the
        # first one's product is theirs too, and the others do not start a worker of their own.
        package = REGISTRY[name].package
        if package in by_package:
            first = by_package[package]
            if first in skipped:
                skipped[name] = skipped[first]
            else:
                per_impl[name] = per_impl[first] | {"measured_as": first}
            continue
        by_package[package] = name
        job = {"peak": name, "dtype": dtype, "threads": threads, "device": device}
        result = run_in_worker(job, threads, timeout_s)
        if result.get("status") == "skipped":
            skipped[name] = result["reason"]
            continue
        if "gflops" not in result:
            raise RuntimeError(f"peak measurement failed for {name} on {device}: {result.get('reason')}")
        per_impl[name] = {"gflops_per_s": result["gflops"], "backend": result["blas"]}
    best = max(per_impl, key=lambda name: per_impl[name]["gflops_per_s"], default=None)
    return {"device": device, "dtype": dtype, "threads": threads, "matrix_size": MATRIX_SIZES[device],
            "peak_gflops_per_s": per_impl[best]["gflops_per_s"] if best else math.nan,
            "peak_impl": best, "per_impl": per_impl, "skipped": skipped, "node": platform.node(), "cpu_model": cpu_model()}


def peak_for_this_cpu(peak: dict) -> dict:
    """`peak` if it was measured on this kind of CPU, else the same measurement taken here.

    On a cluster a cell may land on another node type than the peak's: its time is only
    ever divided by the peak of its own CPU model (and, for a GPU peak, of this node's GPU).
    """
    if peak.get("cpu_model") == cpu_model():
        return peak
    return machine_peak(list(peak["per_impl"]) + list(peak.get("skipped", {})), peak["dtype"], peak["threads"],
                        device=peak.get("device", "cpu"))
