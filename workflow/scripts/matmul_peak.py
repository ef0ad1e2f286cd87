"""Measure the matmul peak of one (device, dtype, threads); the peak_fraction of every cell there refers to it."""

import sys

from bptt_bench.measure.peak import machine_peak
from bptt_bench.tables import write_json

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
peak = machine_peak(snakemake.params.impls, snakemake.wildcards.dtype, int(snakemake.wildcards.threads),
                    device=snakemake.params.device)
print(peak)
write_json(snakemake.output[0], peak)
