# The paper: its own small experiments, their figures, the claims table, the numbers the
# text quotes, and the PDF (Typst, through the `typst` package; no TeX).
from pathlib import Path

PAPER_EXPERIMENTS = ["echo", "derivative_free", "truncated_norms", "peer_check"]
PAPER_FIGURES = ["echo", "derivative_free", "truncated_norms"]
STUDY_TABLES = {
    "benchmarks": "results/tables/benchmarks.parquet",
    "training": "results/tables/training.csv",
    "learnable_lag": "results/tables/learnable_lag.csv",
    "gradient_bias": "results/tables/gradient_bias.csv",
    "gradient_decay": "results/tables/gradient_decay.csv",
} | {name: f"results/tables/{name}.csv" for name in PAPER_EXPERIMENTS}
FIGURE_PDFS = [path for path in BENCHMARK_FIGURES if path.endswith(".pdf")] + expand(
    "results/figures/{figure}.pdf", figure=[*LEARNING_FIGURES, *PAPER_FIGURES]
)


# Started before the learning parts: echo is the longest untimed job, and started last it ran
# alone on one core for 47 s at the end of the untimed phase.
rule paper_experiment:
    output:
        "results/tables/{experiment}.csv",
    log:
        "logs/paper/{experiment}.log",
    wildcard_constraints:
        experiment="|".join(PAPER_EXPERIMENTS),
    priority: 1
    conda:
        "../envs/bptt-bench.yaml"
    threads: 1
    params:
        kwargs=lambda wildcards: config["paper"][wildcards.experiment],
    script:
        "../scripts/paper_experiment.py"


# Wall-clock curves: the derivative-free comparison runs alone, like a timed cell.
use rule paper_experiment as paper_timed_experiment with:
    output:
        "results/tables/{experiment}.csv",
    wildcard_constraints:
        experiment="derivative_free",
    threads: workflow.cores
    resources:
        timed=1,
        slurm_extra="--exclusive",


ruleorder: paper_timed_experiment > paper_experiment


rule paper_figures:
    input:
        **{name: f"results/tables/{name}.csv" for name in PAPER_FIGURES},
    output:
        **{
            name: report(
                f"results/figures/{name}.png",
                caption="../report/paper_figures.rst",
                category="Paper",
            )
            for name in PAPER_FIGURES
        },
        pdfs=expand("results/figures/{figure}.pdf", figure=PAPER_FIGURES),
    log:
        "logs/paper_figures.log",
    conda:
        "../envs/bptt-bench.yaml"
    params:
        settings=SETTINGS,
    script:
        "../scripts/paper_figures.py"


rule claims:
    input:
        **STUDY_TABLES,
    output:
        report(
            "results/tables/claims.csv",
            caption="../report/claims.rst",
            category="Paper",
        ),
    log:
        "logs/claims.log",
    conda:
        "../envs/bptt-bench.yaml"
    script:
        "../scripts/claims.py"


rule paper_numbers:
    input:
        **STUDY_TABLES,
        claims="results/tables/claims.csv",
        figures=FIGURE_PDFS,
    output:
        "results/paper/numbers.json",
    log:
        "logs/paper_numbers.log",
    conda:
        "../envs/bptt-bench.yaml"
    script:
        "../scripts/paper_numbers.py"


rule paper:
    input:
        # beside the Snakefile, so that `--directory` elsewhere still finds it
        source=Path(workflow.basedir) / "paper" / "paper.typ",
        numbers="results/paper/numbers.json",
        claims="results/tables/claims.csv",
        figures=FIGURE_PDFS,
    output:
        report(
            "results/paper/paper.pdf",
            caption="../report/paper.rst",
            category="Paper",
        ),
    log:
        "logs/paper.log",
    conda:
        "../envs/bptt-bench.yaml"
    script:
        "../scripts/paper.py"
