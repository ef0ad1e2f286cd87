"""Run one of the paper's experiments (bptt_bench.paper.experiments) and write its table."""

import sys

from bptt_bench.measure.environment import enter_job

enter_job(snakemake.threads)  # before any framework is imported

from bptt_bench.paper.experiments import run  # noqa: E402
from bptt_bench.tables import write_table  # noqa: E402

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
table = run(snakemake.wildcards.experiment, dict(snakemake.params.kwargs))
print(f"{len(table)} rows")
write_table(table, snakemake.output[0])
