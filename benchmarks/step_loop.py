"""How close can BPTT get to the matmul peak? The forward step loop alone bounds it, per framework.

BPTT's forward and its backward each make one (B, H) x (H, G*H) product per step that
needs the step before: 2 * 2BGH^2 FLOPs per step that no framework can batch into a large
GEMM. This script times the forward recurrence alone (`impl.states`: the framework's own
step loop, no graph, no readout) at the reference cell's shape, each framework in its own
process (one thread, float32), and from it bounds BPTT's fraction of the machine's matmul
peak: the recurrent products of the forward and the backward at the step loop's rate,
every other FLOP of the cost model at the framework's own large-GEMM rate, elementwise work
free. The BPTT cell itself is measured in the same run, as the study measures it.

    python benchmarks/step_loop.py [--T 1024] [--cell rnn_tanh] [--repeats 7]

Issue 8 asks BPTT >= 0.60 of the peak; a bound below 0.60 says that the step loop, not the
autodiff around it, is what holds a framework back.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

import implementations
from bptt_bench.costmodel import cost, step_flops
from bptt_bench.measure.cell import CellSpec, measure_cells
from bptt_bench.measure.environment import cell_environment
from bptt_bench.measure.peak import machine_peak
from implementations.contract import GATES

SIZES = dict(B=32, H=256, D=32, O=32)
IMPLS = ("numpy", "torch", "jax")  # torch_nn's CPU step loop is ATen's, the same kernels as torch's


def time_states(impl_name: str, T: int, cell: str, repeats: int) -> float:
    """Median seconds of `repeats` forward recurrences over T steps, after a warm-up (run in the framework's own
    process): the median, as a cell's time is, so that bound and measured BPTT are the same kind of number."""
    from bptt_bench.measure.timing import time_call
    from bptt_bench.problems import random_problem

    impl = implementations.load(impl_name)
    impl.set_threads(1)
    params, x, _, _ = random_problem(T, SIZES["B"], SIZES["D"], SIZES["H"], SIZES["O"], "float32", seed=0, cell=cell)
    with impl.precision(np.dtype("float32")):
        native = impl.to_native(params)
        # the last step's output depends on every step: bringing it back waits for the whole loop
        run = lambda: impl.host(impl.states(native, None, x, cell)[0][-1])  # noqa: E731
        run()
        return float(np.median([time_call(run)[1] for _ in range(repeats)]))


def step_loop_bound(T: int, cell: str, loop_s: float, gemm_gflops: float, peak_gflops: float) -> dict:
    """The step loop's GFLOP/s and the bound it puts on BPTT's fraction of the peak (module docstring)."""
    B, D, H, O = SIZES["B"], SIZES["D"], SIZES["H"], SIZES["O"]
    loop_flops = T * step_flops(B, D, H, 0, cell)  # what impl.states computes: a step without the readout
    chained = 2 * T * step_flops(B, 0, H, 0, cell)  # the recurrent products, forward and backward
    total = cost("bptt", T, B, D, H, O, cell=cell).flops
    loop_gflops = loop_flops / loop_s / 1e9
    best_s = chained / (loop_gflops * 1e9) + (total - chained) / (gemm_gflops * 1e9)
    return {"loop_gflops": loop_gflops, "loop_fraction": loop_gflops / peak_gflops,
            "chained_share": chained / total, "bound": total / best_s / 1e9 / peak_gflops}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=1024)
    parser.add_argument("--cell", default="rnn_tanh", choices=sorted(GATES))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps({"seconds": time_states(args.child, args.T, args.cell, args.repeats)}))
        return
    peak = machine_peak(IMPLS, "float32", 1)
    peak_gflops = peak["peak_gflops_per_s"]
    print(f"machine matmul peak (2048^3 GEMM, 1 thread, float32): {peak_gflops:.1f} GFLOP/s ({peak['peak_impl']})")
    cells = measure_cells([CellSpec(impl=name, method="bptt", T=args.T, cell=args.cell, dtype="float32", threads=1,
                                    repeats=5, min_repeats=5, **SIZES) for name in IMPLS], peak)
    measured = {row["impl"]: row["peak_fraction"] for row in cells}
    print(f"\n{args.cell}, T={args.T}, B={SIZES['B']}, H={SIZES['H']}, D={SIZES['D']}, O={SIZES['O']}; "
          "fractions of the machine peak")
    print(f"{'impl':<7}{'own GEMM':>10}{'step loop':>11}{'loop/peak':>11}{'BPTT bound':>12}{'BPTT measured':>15}")
    for name in IMPLS:
        child = subprocess.run([sys.executable, __file__, "--child", name, "--T", str(args.T), "--cell", args.cell,
                                "--repeats", str(args.repeats)], env=cell_environment(1), capture_output=True,
                               text=True, check=True)
        seconds = json.loads(child.stdout.strip().splitlines()[-1])["seconds"]
        gemm = peak["per_impl"][name]["gflops_per_s"]
        bound = step_loop_bound(args.T, args.cell, seconds, gemm, peak_gflops)
        print(f"{name:<7}{gemm:>10.1f}{bound['loop_gflops']:>11.1f}{bound['loop_fraction']:>11.3f}"
              f"{bound['bound']:>12.3f}{measured[name]:>15.3f}")
    print(f"\nrecurrent products are {bound['chained_share']:.0%} of BPTT's FLOPs (cost model); GEMM and step loop "
          "in GFLOP/s.\nBPTT bound: those products at the step loop's rate, the rest at the framework's own GEMM rate.")
    print(f"commit {cells[0]['commit']}, {cells[0]['cpu_model']}, {cells[0]['utc_time']}")


if __name__ == "__main__":
    main()
