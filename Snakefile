# bptt-bench: `snakemake --cores 8` runs the default study (config/config.yaml);
# `snakemake --report results/report.html` bundles its figures and tables.


include: "workflow/rules/common.smk"
include: "workflow/rules/benchmarks.smk"


rule all:
    default_target: True
    input:
        "results/tables/benchmarks.csv",
        "results/tables/benchmarks.parquet",
        BENCHMARK_FIGURES,
