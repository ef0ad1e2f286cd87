from dataclasses import asdict

from snakemake.utils import min_version

from bptt_bench.study.config import check_config
from bptt_bench.study.grid import expand as expand_cells

min_version("9.0")


configfile: "config/config.yaml"


# Checked (defaults filled in) before any job: a bad field stops the run with its name.
check_config(config)

CELLS = expand_cells(config)


def peak_file(wildcards):
    """The matmul-peak measurement a cell's peak_fraction refers to (same dtype and threads)."""
    spec = CELLS[wildcards.cell]
    return f"results/machine/peak_{spec.dtype}_{spec.threads}t.json"


def cell_spec(wildcards):
    return asdict(CELLS[wildcards.cell])
