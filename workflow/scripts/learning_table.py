"""Concatenate the parts of the learning experiments into one table with its fixed columns."""

import sys

import pandas as pd

from bptt_bench import tables
from bptt_bench.tables import write_table

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
columns = getattr(tables, f"{snakemake.wildcards.table.upper()}_COLUMNS")
table = pd.concat([pd.read_csv(path) for path in snakemake.input], ignore_index=True)
write_table(table[columns], snakemake.output[0])
