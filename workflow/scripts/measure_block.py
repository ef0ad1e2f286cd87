"""Measure a block's cells (one worker, a process per cell) and write their rows; faults become a status, not a failed job."""

import json
import sys
from pathlib import Path

from bptt_bench.measure.cell import CellSpec, measure_cells
from bptt_bench.measure.peak import peak_for_this_cpu
from bptt_bench.tables import write_json

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
peak = peak_for_this_cpu(json.loads(Path(snakemake.input.peak).read_text()))
cells = snakemake.params.cells
rows = measure_cells([CellSpec(**spec) for spec in cells.values()], peak)
for cell, row in zip(cells, rows):
    print(f"{cell}: {row['status']} {row['reason']} median {row['time_median_s']} s on {row['node']}")
print(f"peak from {peak['node']}")
write_json(snakemake.output[0], dict(zip(cells, rows)))
