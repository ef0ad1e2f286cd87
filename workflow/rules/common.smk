import math
import warnings
from dataclasses import asdict
from pathlib import Path

from snakemake.utils import min_version

from bptt_bench.analysis.benchmarks import frontier_T
from bptt_bench.analysis.settings import study_settings
from bptt_bench.measure.cell import KILL_GRACE_S
from bptt_bench.study.config import check_config
from bptt_bench.study.grid import expand as expand_cells
from bptt_bench.study.grid import memberships
from bptt_bench.tables import read_cell
from bptt_bench.study.learning import TABLES as LEARNING_TABLES
from bptt_bench.study.learning import parts as learning_parts

min_version("9.0")

# Snakemake's own harmless bug (snakemake/snakemake#4280): `--report` would print
# "RuntimeWarning: coroutine 'InputFiles._predicated_size_files.<locals>.sizes' was never awaited".
warnings.filterwarnings(
    "ignore",
    message="coroutine 'InputFiles._predicated_size_files",
    category=RuntimeWarning,
)


# A --configfile describes the whole study (what it leaves out takes the schema's
# defaults); without one, the default study. --config overrides either, key by key.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Checked (defaults filled in) before any job: a bad field stops the run with its name.
check_config(config)

CELLS = expand_cells(config)
CELL_GRIDS = memberships(config)
CELL_FILES = expand("results/cells/{cell}.json", cell=CELLS)
LEARNING_PARTS = learning_parts(config)
PART_FILES = [
    f"results/learning/{experiment}/{part}.csv"
    for experiment, parts in LEARNING_PARTS.items()
    for part in parts
]

# A corrupt cell file stops the run here, naming the file, before any job could remove
# the last good table.
for path in CELL_FILES:
    if Path(path).exists():
        read_cell(path)

# Every setting of the study, in order: each keeps one colour and marker in every figure.
SETTINGS = study_settings(CELLS.values(), LEARNING_PARTS)

BENCHMARK_FIGURES = expand(
    "results/figures/{figure}.{ext}",
    figure=["time_vs_T", "memory_vs_T", "truncation_heatmaps", "peak_fraction"],
    ext=["png", "pdf"],
)

# The memory-time frontier: every benchmark-sized setting at the T with the most checkpoint spacings.
BENCHMARK_SIZES = {key: config["benchmark"][key] for key in ("B", "H", "D", "O")}
FRONTIER_T = frontier_T(CELLS.values())
FRONTIER_SETTINGS = sorted(
    {
        (spec.method, spec.k1, spec.k2, spec.segment, spec.cell)
        for spec in CELLS.values()
        if spec.T == FRONTIER_T
        and all(getattr(spec, k) == v for k, v in BENCHMARK_SIZES.items())
    },
    key=str,
)
FRONTIER_FIGURES = (
    expand("results/figures/frontier.{ext}", ext=["png", "pdf"]) if FRONTIER_T else []
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
    """The matmul-peak measurement a cell's peak_fraction refers to (same device, dtype and
    threads); a GPU's file ends in its device, so the CPU's keeps its name."""
    spec = CELLS[wildcards.cell]
    device = "" if spec.device == "cpu" else f"_{spec.device}"
    return f"results/machine/peak_{spec.dtype}_{spec.threads}t{device}.json"


def cell_spec(wildcards):
    return asdict(CELLS[wildcards.cell])


def part_files(table):
    """The part CSVs whose rows make up `table` (training, gradient_bias, gradient_decay)."""
    return [
        f"results/learning/{experiment}/{part}.csv"
        for experiment in LEARNING_TABLES[table]
        for part in LEARNING_PARTS[experiment]
    ]


# Resources a timed job asks a cluster for.
def peak_runtime_min(wildcards):
    """Minutes: machine_peak's 300 s per implementation, plus start-up."""
    return 5 * len(config["benchmark"]["impls"]) + 10


def cell_runtime_min(wildcards):
    """Minutes: past the cell worker's kill (time_limit_s + KILL_GRACE_S) plus start-up,
    so its own limit always ends a cell first (a `timeout` row), never the scheduler."""
    return math.ceil((CELLS[wildcards.cell].time_limit_s + KILL_GRACE_S) / 60) + 10


def cell_mem_mb(wildcards):
    """MiB: twice the memory budget (activations plus gradients and temporaries) and 4 GiB
    for the interpreter and framework."""
    budget = CELLS[wildcards.cell].memory_budget_bytes or 8 * 2**30
    return 2 * budget // 2**20 + 4096
