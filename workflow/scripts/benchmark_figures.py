"""Draw the four benchmark figures (PNG and PDF) and their findings from the table."""

import sys
from pathlib import Path

import pandas as pd

from bptt_bench.figures import benchmarks
from bptt_bench.figures.style import SettingStyle
from bptt_bench.tables import write_json

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
table = pd.read_parquet(snakemake.input[0])
# The figures compare cells of the benchmark's own sizes; other grids (e.g. the
# learning experiments' cells) are for the Pareto figure.
table = table[(table[list(snakemake.params.sizes)] == pd.Series(snakemake.params.sizes)).all(axis=1)]
look = SettingStyle(snakemake.params.settings)  # the study's settings: one look per setting in every figure
for name in ("time_vs_T", "memory_vs_T", "truncation_heatmaps", "peak_fraction"):
    stem = Path(snakemake.output[name]).with_suffix("")
    getattr(benchmarks, f"plot_{name}")(table, stem, look)
write_json(snakemake.output.summary, benchmarks.summarize(table))
