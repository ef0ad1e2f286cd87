"""Decide every claim of bptt_bench.claims on this run's tables and write results/tables/claims.csv."""

import sys

from bptt_bench.claims import claims_table, read_tables
from bptt_bench.tables import write_table

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
table = claims_table(read_tables(dict(snakemake.input.items())))
print(table[["claim_id", "verdict"]].to_string(index=False))
write_table(table, snakemake.output[0])
