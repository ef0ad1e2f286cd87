"""Compile paper/paper.typ with this run's numbers, claims and figures into results/paper/paper.pdf."""

import sys

from bptt_bench.paper.build import build_pdf

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
build_pdf(snakemake.input.source, snakemake.input.numbers, snakemake.input.claims, snakemake.input.figures,
          snakemake.output[0])
