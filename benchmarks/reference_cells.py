"""The reference numbers of the implementations: BPTT speed as a fraction of the matmul peak
(Elman, LSTM and GRU cells), TBPTT(16, 32) time and memory at T = 1,000 and 16,000, and
checkpointed BPTT (c = 64) against BPTT at T = 4,096 as time and memory ratios (one thread,
H=256, D=32, B=32, O=32, float32).

    python benchmarks/reference_cells.py [--repeats 5] [--bptt-only]

Each cell runs in a process of its own (bptt_bench.measure: one worker per implementation
forks one per cell), like the workflow's cells, and times what they time: training on one
sequence, every repeat (no early stop). The first lines printed are each
implementation's BPTT (T = 1024) fraction of the machine's matmul peak; issue 8 asks >= 0.60.
"""

from __future__ import annotations

import argparse

import pandas as pd

import implementations
from bptt_bench.measure.cell import CellSpec, measure_cells
from bptt_bench.measure.peak import machine_peak

SIZES = dict(B=32, H=256, D=32, O=32, dtype="float32", threads=1)
CELLS = [dict(method="bptt", T=1024, cell=cell) for cell in ("rnn_tanh", "lstm", "gru")]
CELLS += [dict(method="tbptt", T=T, k1=16, k2=32) for T in (1000, 16000)]
CELLS += [dict(method="bptt", T=4096), dict(method="checkpointed", T=4096, segment=64)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bptt-only", action="store_true", help="only the BPTT T=1024 cell (the peak-fraction target)")
    args = parser.parse_args()
    peak = machine_peak(implementations.NAMES, "float32", 1)
    print(f"machine matmul peak (2048^3 GEMM, 1 thread): {peak['peak_gflops_per_s']:.1f} GFLOP/s ({peak['peak_impl']})")
    for name, record in peak["per_impl"].items():
        print(f"  {name:<6} {record['gflops_per_s']:7.1f} GFLOP/s  {record['backend']}")
    rows = measure_cells([
        CellSpec(impl=impl, repeats=args.repeats, min_repeats=args.repeats, **SIZES, **cell)
        for cell in (CELLS[:1] if args.bptt_only else CELLS) for impl in implementations.NAMES
    ], peak)
    table = pd.DataFrame(rows)
    bptt = table[(table["method"] == "bptt") & (table["T"] == 1024)]
    for impl, cell, fraction in zip(bptt["impl"], bptt["cell"], bptt["peak_fraction"]):
        print(f"BPTT T=1024 {cell:<8} {impl:<8} {fraction:.3f} of the machine matmul peak "
              f"({'meets' if fraction >= 0.60 else 'below'} 0.60)")
    table["setting"] = [f"tbptt({k1:.0f},{k2:.0f})" if m == "tbptt" else m if m == "bptt" else f"checkpointed(c={c:.0f})"
                        for m, k1, k2, c in zip(table.method, table.k1, table.k2, table.segment)]
    table["setting"] = [s if c == "rnn_tanh" else f"{c} {s}" for s, c in zip(table.setting, table.cell)]
    table["own_gemm_fraction"] = table["gflops_per_s"] / table["impl_gemm_gflops_per_s"]
    for column in ("peak_rss_bytes", "framework_peak_bytes", "analytic_activation_bytes"):
        table[column.replace("_bytes", "_MiB")] = table[column] / 2**20
    shown = ["impl", "setting", "T", "status", "time_median_s", "time_iqr_s", "compile_s", "gflops_per_s",
             "peak_fraction", "own_gemm_fraction", "peak_rss_MiB", "framework_peak_MiB", "analytic_activation_MiB"]
    with pd.option_context("display.width", 200, "display.float_format", "{:.3g}".format):
        print(table[shown].to_string(index=False))
    print_checkpointed_ratios(table)
    print(f"\ncommit {rows[0]['commit']}, {rows[0]['cpu_model']}, {rows[0]['utc_time']}")


def print_checkpointed_ratios(table: pd.DataFrame) -> None:
    """Checkpointed BPTT (c = 64) over BPTT at T = 4096, per framework (Gruslys et al. 2016: 5% of the
    memory for +33% time at T = 1000; this study's goal: memory <= 0.1x at <= 1.4x the time)."""
    long = table[table["T"] == 4096].set_index(["impl", "method"])
    print("\ncheckpointed BPTT (c=64) / BPTT at T=4096 (Gruslys et al.: memory 0.05x, time 1.33x)")
    for impl in implementations.NAMES:
        if (impl, "bptt") not in long.index or (impl, "checkpointed") not in long.index:
            continue
        bptt, checkpointed = long.loc[(impl, "bptt")], long.loc[(impl, "checkpointed")]
        ratio = {column: checkpointed[column] / bptt[column] for column in
                 ("time_median_s", "peak_rss_bytes", "framework_peak_bytes", "analytic_activation_bytes")}
        print(f"  {impl:<9} time {ratio['time_median_s']:.2f}x  memory: peak RSS {ratio['peak_rss_bytes']:.3f}x, "
              f"native {ratio['framework_peak_bytes']:.3f}x, analytic {ratio['analytic_activation_bytes']:.3f}x")


if __name__ == "__main__":
    main()
