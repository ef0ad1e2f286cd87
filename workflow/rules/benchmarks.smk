# Timed rules take every core Snakemake has (nothing runs beside them) and the
# `timed` resource, limited to 1 in the default profile: timings never overlap.
# On a cluster (workflow/profiles/slurm) each gets a node of its own instead
# (slurm_extra), with cpus_per_task CPUs, runtime minutes and mem_mb MiB (README,
# "Running on a cluster"); the local run ignores these.
rule matmul_peak:
    output:
        "results/machine/peak_{dtype}_{threads}t.json",
    log:
        "logs/matmul_peak_{dtype}_{threads}t.log",
    conda:
        "../envs/bptt-bench.yaml"
    threads: workflow.cores
    resources:
        timed=1,
        cpus_per_task=lambda wildcards: int(wildcards.threads),
        runtime=peak_runtime_min,
        mem_mb=4096,
        slurm_extra="--exclusive",
    params:
        impls=config["benchmark"]["impls"],
        device="cpu",
    script:
        "../scripts/matmul_peak.py"


# The GPU's GEMM rate, which the peak_fraction of a cuda cell refers to. Without a GPU its
# record says why (peak NaN) and the cuda cells are skipped rows.
use rule matmul_peak as matmul_peak_cuda with:
    output:
        "results/machine/peak_{dtype}_{threads}t_cuda.json",
    log:
        "logs/matmul_peak_{dtype}_{threads}t_cuda.log",
    params:
        impls=config["benchmark"]["impls"],
        device="cuda",


# One timed job per block: a grid's cells of one implementation, one after another, each in
# a process of its own (bptt_bench.measure.worker), into one file of rows keyed by cell id.
rule measure_block:
    input:
        peak=peak_file,
    output:
        "results/cells/{block}.json",
    log:
        "logs/cells/{block}.log",
    conda:
        "../envs/bptt-bench.yaml"
    threads: workflow.cores
    resources:
        timed=1,
        cpus_per_task=lambda wildcards: block_specs(wildcards)[0].threads,
        runtime=block_runtime_min,
        mem_mb=block_mem_mb,
        slurm_extra="--exclusive",
    params:
        cells=block_cells,
    script:
        "../scripts/measure_block.py"


rule benchmark_table:
    input:
        BLOCK_FILES,
    output:
        csv=report(
            "results/tables/benchmarks.csv",
            caption="../report/benchmarks_table.rst",
            category="Tables",
            subcategory="CSV downloads",
        ),
        parquet="results/tables/benchmarks.parquet",
    log:
        "logs/benchmark_table.log",
    conda:
        "../envs/bptt-bench.yaml"
    params:
        grids=CELL_GRIDS,
    script:
        "../scripts/benchmark_table.py"


rule benchmark_figures:
    input:
        "results/tables/benchmarks.parquet",
    output:
        time_vs_T=report(
            "results/figures/time_vs_T.png",
            caption="../report/time_vs_T.rst",
            category="Benchmarks",
        ),
        memory_vs_T=report(
            "results/figures/memory_vs_T.png",
            caption="../report/memory_vs_T.rst",
            category="Benchmarks",
        ),
        truncation_heatmaps=report(
            "results/figures/truncation_heatmaps.png",
            caption="../report/truncation_heatmaps.rst",
            category="Benchmarks",
        ),
        peak_fraction=report(
            "results/figures/peak_fraction.png",
            caption="../report/peak_fraction.rst",
            category="Benchmarks",
        ),
        pdfs=expand(
            "results/figures/{figure}.pdf",
            figure=[
                "time_vs_T",
                "memory_vs_T",
                "truncation_heatmaps",
                "peak_fraction",
            ],
        ),
        summary="results/figures/benchmarks_summary.json",
    log:
        "logs/benchmark_figures.log",
    conda:
        "../envs/bptt-bench.yaml"
    params:
        sizes=BENCHMARK_SIZES,
        settings=SETTINGS,
    script:
        "../scripts/benchmark_figures.py"


# Untimed (one core, like the learning parts): each frontier setting's gradient error against BPTT.
rule frontier_errors:
    output:
        "results/tables/frontier_errors.csv",
    log:
        "logs/frontier_errors.log",
    conda:
        "../envs/bptt-bench.yaml"
    threads: 1
    params:
        T=FRONTIER_T,
        sizes=BENCHMARK_SIZES,
        settings=[
            dict(zip(("method", "k1", "k2", "segment", "cell"), setting))
            for setting in FRONTIER_SETTINGS
        ],
    script:
        "../scripts/frontier_errors.py"


rule frontier_figure:
    input:
        benchmarks="results/tables/benchmarks.parquet",
        errors="results/tables/frontier_errors.csv",
    output:
        png=report(
            "results/figures/frontier.png",
            caption="../report/frontier.rst",
            category="Benchmarks",
        ),
        pdf="results/figures/frontier.pdf",
        summary="results/figures/frontier_summary.json",
    log:
        "logs/frontier_figure.log",
    conda:
        "../envs/bptt-bench.yaml"
    params:
        T=FRONTIER_T,
        sizes=BENCHMARK_SIZES,
        settings=SETTINGS,
    script:
        "../scripts/frontier_figure.py"
