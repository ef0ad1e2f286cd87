"""Concatenate the cell rows into the benchmark table (CSV and Parquet), each with its grid(s)."""

import sys
from pathlib import Path

from bptt_bench.tables import BENCHMARK_TABLE_COLUMNS, read_cell, rows_to_table, write_table

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
rows = [{"grid": snakemake.params.grids[Path(path).stem]} | read_cell(path) for path in snakemake.input]
table = rows_to_table(rows, BENCHMARK_TABLE_COLUMNS)
print(table["status"].value_counts().to_string())
write_table(table, snakemake.output.csv)
write_table(table, snakemake.output.parquet)
