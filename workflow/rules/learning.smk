# Untimed: these jobs run beside each other (one core each), never beside a timed cell.
rule learning_part:
    output:
        "results/learning/{experiment}/{part}.csv",
    log:
        "logs/learning/{experiment}/{part}.log",
    conda:
        "../envs/bptt-bench.yaml"
    threads: 1
    params:
        kwargs=lambda wildcards: LEARNING_PARTS[wildcards.experiment][wildcards.part],
    script:
        "../scripts/learning_part.py"


rule learning_table:
    input:
        lambda wildcards: part_files(wildcards.table),
    output:
        report(
            "results/tables/{table}.csv",
            caption="../report/learning_tables.rst",
            category="Tables",
            subcategory="CSV downloads",
        ),
    log:
        "logs/learning_table_{table}.log",
    wildcard_constraints:
        table="learnable_lag|training|gradient_bias|gradient_decay",
    conda:
        "../envs/bptt-bench.yaml"
    script:
        "../scripts/learning_table.py"


rule learning_figures:
    input:
        learnable_lag="results/tables/learnable_lag.csv",
        training="results/tables/training.csv",
        gradient_bias="results/tables/gradient_bias.csv",
        gradient_decay="results/tables/gradient_decay.csv",
        benchmarks="results/tables/benchmarks.parquet",
    output:
        learnable_lag=report(
            "results/figures/learnable_lag.png",
            caption="../report/learnable_lag.rst",
            category="Learning",
        ),
        loss_curves=report(
            "results/figures/loss_curves.png",
            caption="../report/loss_curves.rst",
            category="Learning",
        ),
        pareto=report(
            "results/figures/pareto.png",
            caption="../report/pareto.rst",
            category="Learning",
        ),
        gradient_bias=report(
            "results/figures/gradient_bias.png",
            caption="../report/gradient_bias.rst",
            category="Learning",
        ),
        gradient_decay=report(
            "results/figures/gradient_decay.png",
            caption="../report/gradient_decay.rst",
            category="Learning",
        ),
        pdfs=expand("results/figures/{figure}.pdf", figure=LEARNING_FIGURES),
        summary="results/figures/learning_summary.json",
    log:
        "logs/learning_figures.log",
    conda:
        "../envs/bptt-bench.yaml"
    params:
        curve_tasks=list(config["learning"]["loss_curves"]["tasks"]),
        settings=SETTINGS,
    script:
        "../scripts/learning_figures.py"
