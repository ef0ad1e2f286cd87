"""Each frontier setting's gradient against BPTT's at the frontier T (NumPy, float64, one core)."""

import sys

from bptt_bench.measure.environment import enter_job

enter_job(snakemake.threads)  # before any framework is imported

import pandas as pd  # noqa: E402

from bptt_bench.experiments.gradient_bias import errors_against_bptt  # noqa: E402
from bptt_bench.tables import write_table  # noqa: E402

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
rows = errors_against_bptt(snakemake.params.settings, T=snakemake.params.T, **snakemake.params.sizes)
table = pd.DataFrame(rows)
print(table.to_string())
write_table(table, snakemake.output[0])
