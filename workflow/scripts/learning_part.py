"""Run one part of a learning experiment (single-threaded) and write its rows."""

import sys

from bptt_bench.measure.environment import enter_job

enter_job(snakemake.threads)  # before any framework is imported

import pandas as pd  # noqa: E402

from bptt_bench.study.learning import run_part  # noqa: E402
from bptt_bench.tables import write_table  # noqa: E402

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
rows = run_part(snakemake.wildcards.experiment, snakemake.params.kwargs)
print(f"{len(rows)} rows")
write_table(pd.DataFrame(rows), snakemake.output[0])
