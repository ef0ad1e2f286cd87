"""Draw the figures of the paper's own experiments (PNG and PDF)."""

import sys
from pathlib import Path

import pandas as pd

from bptt_bench.paper.figures import PLOTS

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
for name, plot in PLOTS.items():
    plot(pd.read_csv(snakemake.input[name]), Path(snakemake.output[name]).with_suffix(""))
