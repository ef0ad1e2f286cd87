"""Concatenate the blocks' cell rows into the benchmark table (CSV and Parquet), each with its grid(s)."""

import sys

from bptt_bench.tables import BENCHMARK_TABLE_COLUMNS, read_block, rows_to_table, write_table

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
rows = [
    {"grid": snakemake.params.grids[cell]} | row
    for path in snakemake.input
    for cell, row in read_block(path).items()
]
table = rows_to_table(rows, BENCHMARK_TABLE_COLUMNS)
print(table["status"].value_counts().to_string())
write_table(table, snakemake.output.csv)
write_table(table, snakemake.output.parquet)
