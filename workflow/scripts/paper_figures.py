"""Draw the figures of the paper's own experiments (PNG and PDF)."""

import sys
from pathlib import Path

import pandas as pd

from bptt_bench.figures.style import SettingStyle
from bptt_bench.paper.figures import PLOTS

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
look = SettingStyle(snakemake.params.settings)  # the study's settings keep their colours here too
for name, plot in PLOTS.items():
    options = {"look": look} if name == "truncated_norms" else {}
    plot(pd.read_csv(snakemake.input[name]), Path(snakemake.output[name]).with_suffix(""), **options)
