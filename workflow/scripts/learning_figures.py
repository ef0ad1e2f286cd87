"""Draw the five learning figures (PNG and PDF) and their findings from the tables."""

import sys
from pathlib import Path

import pandas as pd

from bptt_bench.figures import learning
from bptt_bench.figures.style import SettingStyle
from bptt_bench.tables import write_json

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
lags = pd.read_csv(snakemake.input.learnable_lag)
training = pd.read_csv(snakemake.input.training)
bias = pd.read_csv(snakemake.input.gradient_bias)
decay = pd.read_csv(snakemake.input.gradient_decay)
benchmarks = pd.read_parquet(snakemake.input.benchmarks)
tasks = tuple(snakemake.params.curve_tasks)
curves = training[training["task"].isin(tasks)]
look = SettingStyle(snakemake.params.settings)  # the study's settings: one look per setting in every figure


def stem(name):
    return Path(snakemake.output[name]).with_suffix("")


learning.plot_learnable_lag(lags, stem("learnable_lag"), look)
learning.plot_loss_curves(curves, stem("loss_curves"), tasks, look)
learning.plot_pareto(curves, benchmarks, stem("pareto"), look)
learning.plot_gradient_bias(bias, stem("gradient_bias"))
learning.plot_gradient_decay(decay, stem("gradient_decay"))
write_json(
    snakemake.output.summary,
    {
        "learnable_lag": learning.summarize_learnable_lag(lags),
        "loss_curves": learning.summarize_loss_curves(curves, tasks=tasks),
        "pareto": learning.summarize_pareto(curves, benchmarks),
        "gradient_bias": learning.summarize_gradient_bias(bias),
        "gradient_decay": learning.summarize_gradient_decay(decay),
    },
)
