"""Concatenate the cell rows into the benchmark table (CSV and Parquet)."""

import json
import sys
from pathlib import Path

from bptt_bench.tables import BENCHMARK_COLUMNS, rows_to_table, write_table

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
table = rows_to_table([json.loads(Path(path).read_text()) for path in snakemake.input], BENCHMARK_COLUMNS)
print(table["status"].value_counts().to_string())
write_table(table, snakemake.output.csv)
write_table(table, snakemake.output.parquet)
