"""Measure the machine's matmul peak for one (dtype, threads); every cell's peak_fraction refers to it."""

import sys

from bptt_bench.measure.peak import machine_peak
from bptt_bench.tables import write_json

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
peak = machine_peak(snakemake.params.impls, snakemake.wildcards.dtype, int(snakemake.wildcards.threads))
print(peak)
write_json(snakemake.output[0], peak)
