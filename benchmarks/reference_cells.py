"""The reference numbers of the implementations: BPTT speed as a fraction of the matmul peak,
TBPTT(16, 32) time and memory at T = 1,000 and 16,000 (one thread, H=256, D=32, B=32, O=32, float32).

    python benchmarks/reference_cells.py [--repeats 5] [--bptt-only]

Each cell runs in its own worker process (bptt_bench.measure), like the workflow's cells, and
times what they time: training on one sequence. The first lines printed are each
implementation's BPTT (T = 1024) fraction of the machine's matmul peak; issue 8 asks >= 0.60.
"""

from __future__ import annotations

import argparse

import pandas as pd

import implementations
from bptt_bench.measure.cell import CellSpec, measure_cell
from bptt_bench.measure.peak import machine_peak

SIZES = dict(B=32, H=256, D=32, O=32, dtype="float32", threads=1)
CELLS = [dict(method="bptt", T=1024)] + [dict(method="tbptt", T=T, k1=16, k2=32) for T in (1000, 16000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bptt-only", action="store_true", help="only the BPTT T=1024 cell (the peak-fraction target)")
    args = parser.parse_args()
    peak = machine_peak(implementations.NAMES, "float32", 1)
    print(f"machine matmul peak (2048^3 GEMM, 1 thread): {peak['peak_gflops_per_s']:.1f} GFLOP/s ({peak['peak_impl']})")
    for name, record in peak["per_impl"].items():
        print(f"  {name:<6} {record['gflops_per_s']:7.1f} GFLOP/s  {record['backend']}")
    rows = [
        measure_cell(CellSpec(impl=impl, repeats=args.repeats, **SIZES, **cell), peak)
        for cell in (CELLS[:1] if args.bptt_only else CELLS) for impl in implementations.NAMES
    ]
    table = pd.DataFrame(rows)
    bptt = table[(table["method"] == "bptt") & (table["T"] == 1024)]
    for impl, fraction in zip(bptt["impl"], bptt["peak_fraction"]):
        print(f"BPTT T=1024 {impl:<6} {fraction:.3f} of the machine matmul peak ({'meets' if fraction >= 0.60 else 'below'} 0.60)")
    table["setting"] = [m if m == "bptt" else f"tbptt({k1:.0f},{k2:.0f})" for m, k1, k2 in zip(table.method, table.k1, table.k2)]
    table["own_gemm_fraction"] = table["gflops_per_s"] / table["impl_gemm_gflops_per_s"]
    for column in ("peak_rss_bytes", "framework_peak_bytes", "analytic_activation_bytes"):
        table[column.replace("_bytes", "_MiB")] = table[column] / 2**20
    shown = ["impl", "setting", "T", "status", "time_median_s", "time_iqr_s", "compile_s", "gflops_per_s",
             "peak_fraction", "own_gemm_fraction", "peak_rss_MiB", "framework_peak_MiB", "analytic_activation_MiB"]
    with pd.option_context("display.width", 200, "display.float_format", "{:.3g}".format):
        print(table[shown].to_string(index=False))
    print(f"\ncommit {rows[0]['commit']}, {rows[0]['cpu_model']}, {rows[0]['utc_time']}")


if __name__ == "__main__":
    main()
