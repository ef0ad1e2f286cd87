"""Measure one cell (in its own worker process) and write its row; faults become a status, not a failed job."""

import json
import sys
from pathlib import Path

from bptt_bench.measure.cell import CellSpec, measure_cell
from bptt_bench.measure.peak import peak_for_this_cpu
from bptt_bench.tables import write_json

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
peak = peak_for_this_cpu(json.loads(Path(snakemake.input.peak).read_text()))
row = measure_cell(CellSpec(**snakemake.params.spec), peak)
print(f"{row['status']} {row['reason']} median {row['time_median_s']} s on {row['node']}, peak from {peak['node']}")
write_json(snakemake.output[0], row)
