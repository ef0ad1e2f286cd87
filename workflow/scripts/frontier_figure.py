"""Draw the memory-time frontier (PNG and PDF) at the frontier T and its findings entry."""

import sys
from pathlib import Path

import pandas as pd

from bptt_bench.figures.frontier import plot_frontier, summarize_frontier
from bptt_bench.figures.style import SettingStyle
from bptt_bench.tables import write_json

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
table = pd.read_parquet(snakemake.input.benchmarks)
sizes = snakemake.params.sizes
table = table[(table[list(sizes)] == pd.Series(sizes)).all(axis=1)]  # the benchmark's own sizes
errors = pd.read_csv(snakemake.input.errors)
source = ""
if len(errors):
    first = errors.iloc[0]
    source = f" (NumPy {first['dtype']}, the cells' random problem, B={first['B']}, H={first['H']})"
T = snakemake.params.T
plot_frontier(table, Path(snakemake.output.png).with_suffix(""), errors, T,
              SettingStyle(snakemake.params.settings), source)
write_json(snakemake.output.summary, summarize_frontier(table, errors, T))
