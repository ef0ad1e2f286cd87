import math
import warnings
from dataclasses import asdict
from pathlib import Path

from snakemake.utils import min_version

from bptt_bench.analysis.benchmarks import frontier_T
from bptt_bench.analysis.settings import study_settings
from bptt_bench.measure.process import KILL_GRACE_S
from bptt_bench.study.config import check_config
from bptt_bench.study.grid import expand as expand_cells
from bptt_bench.study.grid import blocks, device_suffix, memberships
from bptt_bench.tables import read_block
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
BLOCKS = blocks(config)
BLOCK_FILES = expand("results/cells/{block}.json", block=BLOCKS)
LEARNING_PARTS = learning_parts(config)
PART_FILES = [
    f"results/learning/{experiment}/{part}.csv"
    for experiment, parts in LEARNING_PARTS.items()
    for part in parts
]

# A corrupt block file stops the run here, naming the file, before any job could remove
# the last good table.
for path in BLOCK_FILES:
    if Path(path).exists():
        read_block(path)

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


def block_specs(wildcards):
    return [CELLS[cell] for cell in BLOCKS[wildcards.block]]


def peak_file(wildcards):
    """The matmul-peak measurement a block's peak_fraction refers to (same device, dtype and
    threads); a GPU's file ends in its device, so the CPU's keeps its name."""
    # A block is one grid: one dtype, threads and device.
    spec = block_specs(wildcards)[0]
    return f"results/machine/peak_{spec.dtype}_{spec.threads}t{device_suffix(spec.device)}.json"


def block_cells(wildcards):
    """{cell id: CellSpec fields} of the block's cells, in order."""
    return {cell: asdict(CELLS[cell]) for cell in BLOCKS[wildcards.block]}


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


def block_runtime_min(wildcards):
    """Minutes: past every cell's kill (time_limit_s + KILL_GRACE_S) plus start-up, so the
    cells' own limits always end a cell first (a `timeout` row), never the scheduler."""
    limits = sum(spec.time_limit_s + KILL_GRACE_S for spec in block_specs(wildcards))
    return math.ceil(limits / 60) + 10


def block_mem_mb(wildcards):
    """MiB: twice the memory budget (activations plus gradients and temporaries) and 4 GiB
    for the interpreter and framework."""
    budget = max(
        spec.memory_budget_bytes or 8 * 2**30 for spec in block_specs(wildcards)
    )
    return 2 * budget // 2**20 + 4096
