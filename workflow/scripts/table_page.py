"""A result table (CSV) as a styled HTML page, so that the report shows it as a table."""

import sys

import pandas as pd

from bptt_bench.figures.findings import table_page
from bptt_bench.tables import write_atomically

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
table = pd.read_csv(snakemake.input[0])
page = table_page(
    table,
    f"{snakemake.wildcards.table}.csv ({len(table)} rows)",
    f"The study's {snakemake.wildcards.table} table as written to {snakemake.input[0]}.",
)
write_atomically(snakemake.output[0], lambda tmp: tmp.write_text(page))
