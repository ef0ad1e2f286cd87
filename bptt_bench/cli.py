"""Command line: `python -m bptt_bench measure|peak|demo ...` (also installed as `bptt-bench`)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import fields

import implementations
from implementations.contract import CELLS, METHODS

from .costmodel import MODES
from .defaults import BENCHMARK as DEFAULT
from .measure.cell import CellSpec, measure_cell
from .measure.peak import machine_peak


def _measure(args) -> None:
    spec_fields = {f.name for f in fields(CellSpec)}
    spec = CellSpec(**{key: value for key, value in vars(args).items() if key in spec_fields and value is not None})
    if args.peak == "auto":
        peak = machine_peak(implementations.NAMES, spec.dtype, spec.threads)
    else:
        peak = None if args.peak == "none" else {"peak_gflops_per_s": float(args.peak)}
    row = measure_cell(spec, peak)
    if args.json:
        print(json.dumps(row, default=str))
        return
    width = max(map(len, row))
    for key, value in row.items():
        shown = f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else value
        print(f"{key:>{width}}  {shown}")


def _peak(args) -> None:
    print(json.dumps(machine_peak(args.impl or implementations.NAMES, args.dtype, args.threads), indent=2))


def _demo(args) -> None:
    from .demo import demo

    demo(T=args.T, B=args.B, H=args.H)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="bptt-bench", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    measure = commands.add_parser("measure", help="measure one cell and print its row")
    measure.add_argument("--impl", required=True, choices=implementations.NAMES)
    measure.add_argument("--method", required=True, choices=METHODS)
    measure.add_argument("--cell", choices=CELLS, help="recurrent cell (default rnn_tanh)")
    measure.add_argument("--T", type=int, required=True)
    measure.add_argument("--k1", type=int)
    measure.add_argument("--k2", type=int)
    measure.add_argument("--segment", type=int, help="checkpointed BPTT's spacing c, default ceil(sqrt(T))")
    # Left out, a field takes CellSpec's default, which is the config schema's (bptt_bench.defaults).
    for name in ("B", "H", "D", "O", "threads", "repeats", "seed"):
        measure.add_argument(f"--{name}", type=int, help=f"default {DEFAULT[name]}")
    measure.add_argument("--dtype", choices=("float32", "float64"), help=f"default {DEFAULT['dtype']}")
    measure.add_argument("--lr", type=float, help=f"SGD step of the timed TBPTT pass, default {DEFAULT['lr']}")
    measure.add_argument("--time-limit-s", dest="time_limit_s", type=float, help=f"default {DEFAULT['time_limit_s']}")
    measure.add_argument("--mode", choices=MODES, help="what is timed: training on one sequence (default) or the gradient only")
    measure.add_argument("--peak", default="auto", help="machine peak GFLOP/s: 'auto' (measure it), 'none', or a number")
    measure.add_argument("--json", action="store_true", help="print the row as one JSON line")
    measure.set_defaults(run=_measure)

    peak = commands.add_parser("peak", help="measure the machine's matmul peak")
    peak.add_argument("--impl", action="append", choices=implementations.NAMES)
    peak.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    peak.add_argument("--threads", type=int, default=1)
    peak.set_defaults(run=_peak)

    demo = commands.add_parser("demo", help="the three frameworks on one problem: losses, agreement, timings")
    demo.add_argument("--T", type=int, default=256)
    demo.add_argument("--B", type=int, default=16)
    demo.add_argument("--H", type=int, default=64)
    demo.set_defaults(run=_demo)
    return top


def main(argv=None) -> None:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except ValueError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
