from dataclasses import asdict

from snakemake.utils import min_version

from bptt_bench.analysis.settings import study_settings
from bptt_bench.study.config import check_config
from bptt_bench.study.grid import expand as expand_cells
from bptt_bench.study.learning import TABLES as LEARNING_TABLES
from bptt_bench.study.learning import parts as learning_parts

min_version("9.0")


configfile: "config/config.yaml"


# Checked (defaults filled in) before any job: a bad field stops the run with its name.
check_config(config)

CELLS = expand_cells(config)
LEARNING_PARTS = learning_parts(config)
# Every setting of the study, in order: each keeps one colour and marker in every figure.
SETTINGS = study_settings(CELLS.values(), LEARNING_PARTS)

BENCHMARK_FIGURES = expand(
    "results/figures/{figure}.{ext}",
    figure=["time_vs_T", "memory_vs_T", "truncation_heatmaps", "peak_fraction"],
    ext=["png", "pdf"],
)

LEARNING_FIGURES = [
    "learnable_lag",
    "loss_curves",
    "pareto",
    "gradient_bias",
    "gradient_decay",
]


TABLES = ["benchmarks", "training", "gradient_bias", "gradient_decay"]


def peak_file(wildcards):
    """The matmul-peak measurement a cell's peak_fraction refers to (same dtype and threads)."""
    spec = CELLS[wildcards.cell]
    return f"results/machine/peak_{spec.dtype}_{spec.threads}t.json"


def cell_spec(wildcards):
    return asdict(CELLS[wildcards.cell])


def part_files(table):
    """The part CSVs whose rows make up `table` (training, gradient_bias, gradient_decay)."""
    return [
        f"results/learning/{experiment}/{part}.csv"
        for experiment in LEARNING_TABLES[table]
        for part in LEARNING_PARTS[experiment]
    ]
