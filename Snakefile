# bptt-bench: `snakemake` runs the default study (config/config.yaml, or a --configfile);
# `snakemake --report results/report.html` bundles its figures and tables; the paper is
# results/paper/paper.pdf.


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/benchmarks.smk"
include: "workflow/rules/learning.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/paper.smk"


rule all:
    default_target: True
    input:
        "results/tables/benchmarks.csv",
        "results/tables/benchmarks.parquet",
        BENCHMARK_FIGURES,
        FRONTIER_FIGURES,
        expand("results/tables/{table}.csv", table=LEARNING_TABLES),
        expand(
            "results/figures/{figure}.{ext}",
            figure=LEARNING_FIGURES,
            ext=["png", "pdf"],
        ),
        "results/findings.html",
        expand("results/tables/{table}.html", table=TABLES),
        "results/paper/paper.pdf",
        # every cell and learning part is a target too: one deleted is measured again
        # (and its tables and figures redrawn), though the tables that held it exist
        BLOCK_FILES,
        PART_FILES,
