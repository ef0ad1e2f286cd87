# What a reader opens: the findings page and the tables as pages (the report shows HTML inline).
rule findings:
    input:
        "results/figures/benchmarks_summary.json",
        "results/figures/learning_summary.json",
        # the frontier's entry where the study has checkpoint spacings
        ["results/figures/frontier_summary.json"] if FRONTIER_T else [],
    output:
        report(
            "results/findings.html",
            caption="../report/findings.rst",
            category="Findings",
        ),
    log:
        "logs/findings.log",
    conda:
        "../envs/bptt-bench.yaml"
    script:
        "../scripts/findings.py"


rule table_page:
    input:
        "results/tables/{table}.csv",
    output:
        report(
            "results/tables/{table}.html",
            caption="../report/table_page.rst",
            category="Tables",
            subcategory="Tables",
            labels={"table": "{table}"},
        ),
    log:
        "logs/table_page_{table}.log",
    wildcard_constraints:
        table="|".join(TABLES),
    conda:
        "../envs/bptt-bench.yaml"
    script:
        "../scripts/table_page.py"
