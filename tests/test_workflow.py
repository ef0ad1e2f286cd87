"""The Snakemake study: config checking, one smoke-sized run end to end, lint and format."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bptt_bench.study.config import ConfigError, check_config, load_config
from bptt_bench.study.grid import expand
from bptt_bench import tables
from bptt_bench.tables import BENCHMARK_COLUMNS, STATUSES

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"),
             "--workflow-profile", str(ROOT / "workflow/profiles/default")]


def minimal():
    """The smoke config with a one-grid benchmark block that leaves every default out."""
    config = yaml.safe_load((ROOT / "config/smoke.yaml").read_text())
    config["benchmark"] = {"grids": [{"name": "g", "T": [64], "truncations": [[16, 32]]}]}
    return config


def test_defaults_are_filled_in():
    config = check_config(minimal())
    assert config["benchmark"]["repeats"] == 5 and config["benchmark"]["impls"] == ["numpy", "torch", "jax"]
    assert len(expand(config)) == 3 * 2  # three impls x (BPTT, TBPTT(16, 32))
    assert config["learning"]["impl"] == "numpy"


def test_default_and_smoke_configs_are_valid():
    for name in ("config.yaml", "smoke.yaml"):
        assert expand(load_config(ROOT / "config" / name))


BAD = [
    ("unknown impl", ["benchmark", "impls"], ["numpy", "tensorflow"], "benchmark.impls"),
    ("T < 1", ["benchmark", "grids", 0, "T"], [64, 0], "benchmark.grids[0].T[1]"),
    ("k < 1", ["benchmark", "grids", 0, "truncations"], [[0, 4]], "benchmark.grids[0].truncations[0][0]"),
    ("negative size", ["benchmark", "H"], -4, "benchmark.H"),
    ("misspelled key", ["benchmark", "repeat"], 3, "'repeat' was unexpected"),
    ("repeats < 1", ["benchmark", "repeats"], 0, "benchmark.repeats"),
    ("unknown dtype", ["benchmark", "dtype"], "float16", "benchmark.dtype"),
    ("k1 without k2", ["benchmark", "grids", 0, "k1"], [4], "k2"),
    ("training setting", ["learning", "learnable_lag", "settings"], [["tbptt", 4, None]], "learning.learnable_lag.settings[0]"),
    ("lag beyond T", ["learning", "learnable_lag", "lags"], [1, 99], "learning.learnable_lag.lags[1]"),
    ("bias impl", ["learning", "gradient_bias", "impls"], ["numpy", "mxnet"], "learning.gradient_bias.impls"),
    ("task parameter", ["learning", "loss_curves", "tasks"], {"copy_memory": {"blank": 0}}, "learning.loss_curves.tasks.copy_memory"),
    ("negative clip", ["learning", "clip"], -1.0, "learning.clip"),
]


def with_change(path, value):
    config = minimal()
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return config


@pytest.mark.parametrize("path, value, words", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_config_names_the_field(path, value, words):
    with pytest.raises(ConfigError) as error:
        check_config(with_change(path, value))
    assert words in str(error.value)


def test_bad_config_stops_snakemake_before_any_job(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(with_change(["benchmark", "grids", 0, "T"], [64, -3])))
    done = subprocess.run(SNAKEMAKE + ["--cores", "1", "--directory", str(tmp_path), "--configfile", str(config)],
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "benchmark.grids[0].T[1]" in done.stderr + done.stdout
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke study, run once into a fresh directory."""
    workdir = tmp_path_factory.mktemp("smoke")
    command = SNAKEMAKE + ["--cores", "8", "--directory", str(workdir), "--configfile", str(ROOT / "config/smoke.yaml")]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir, command


@pytest.mark.workflow
def test_smoke_study_tables_and_figures(smoke_run):
    workdir, _ = smoke_run
    table = pd.read_csv(workdir / "results/tables/benchmarks.csv")
    assert list(table.columns) == BENCHMARK_COLUMNS
    assert pd.read_parquet(workdir / "results/tables/benchmarks.parquet").shape == table.shape
    assert set(table["status"]) <= set(STATUSES)
    skipped = table[table["status"] == "skipped"]
    assert set(zip(skipped["method"], skipped["T"])) == {("bptt", 256)}
    assert "exceeds the budget" in skipped["reason"].iloc[0]
    ok = table[table["status"] == "ok"]
    assert len(ok) == len(table) - len(skipped)
    assert (ok["time_median_s"] > 0).all() and (ok["peak_fraction"] > 0).all() and (ok["n_repeats"] == 3).all()
    assert ok["commit"].str.len().gt(6).all() and ok["cpu_model"].str.len().gt(0).all()
    figures = ["time_vs_T", "memory_vs_T", "truncation_heatmaps", "peak_fraction",
               "learnable_lag", "loss_curves", "pareto", "gradient_bias", "gradient_decay"]
    for name in figures:
        for ext in ("png", "pdf"):
            assert (workdir / f"results/figures/{name}.{ext}").stat().st_size > 1000
    for name in ("learnable_lag", "training", "gradient_bias", "gradient_decay"):
        learning = pd.read_csv(workdir / f"results/tables/{name}.csv")
        assert list(learning.columns) == getattr(tables, f"{name.upper()}_COLUMNS") and len(learning)
    assert "Findings" in (workdir / "results/findings.html").read_text()


@pytest.mark.workflow
def test_smoke_study_builds_the_paper(smoke_run):
    workdir, _ = smoke_run
    assert (workdir / "results/paper/paper.pdf").read_bytes().startswith(b"%PDF")
    claims = pd.read_csv(workdir / "results/tables/claims.csv")
    assert len(claims) >= 12 and set(claims["verdict"]) <= {"holds", "fails", "partly", "not tested"}
    numbers = json.loads((workdir / "results/paper/numbers.json").read_text())
    assert {"setup", "cells", "echo", "derivative_free", "truncated_norms"} <= set(numbers)
    for name in ("echo", "derivative_free", "truncated_norms"):
        assert (workdir / f"results/figures/{name}.pdf").stat().st_size > 1000


@pytest.mark.workflow
def test_smoke_study_physics(smoke_run):
    """BPTT's memory grows with T; TBPTT's stays within 20% (framework-native figure)."""
    table = pd.read_csv(smoke_run[0] / "results/tables/benchmarks.csv").query("status == 'ok'")
    for impl, rows in table.groupby("impl"):
        bptt = rows[rows["method"] == "bptt"].set_index("T")["framework_peak_bytes"]
        assert bptt[64] > 1.5 * bptt[32], (impl, bptt.to_dict())
        tbptt = rows[(rows["method"] == "tbptt") & (rows["k1"] == 8) & (rows["k2"] == 8)]["framework_peak_bytes"]
        assert tbptt.max() <= 1.2 * tbptt.min(), (impl, tbptt.tolist())


@pytest.mark.workflow
def test_timed_cells_never_overlap(smoke_run):
    """Each row ends at utc_time after cell_wall_s seconds of worker: the intervals must be disjoint."""
    table = pd.read_csv(smoke_run[0] / "results/tables/benchmarks.csv").query("status != 'skipped'")
    end = pd.to_datetime(table["utc_time"]).map(pd.Timestamp.timestamp)
    intervals = sorted(zip(end - table["cell_wall_s"], end))
    gaps = [later[0] - earlier[1] for earlier, later in zip(intervals, intervals[1:])]
    assert min(gaps) > -0.01, f"overlap of {-min(gaps):.3f} s"


@pytest.mark.workflow
def test_report_bundles_figures_and_tables(smoke_run):
    workdir, command = smoke_run
    report = workdir / "results/report.html"
    done = subprocess.run(command + ["--report", str(report)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    text = report.read_text()
    assert all(name in text for name in ("time_vs_T.png", "pareto.png", "benchmarks.csv", "findings.html",
                                         "benchmarks.html", "training.html", "Start here"))


@pytest.mark.workflow
def test_rerun_resumes_only_missing_cells(smoke_run):  # last: it deletes outputs
    """An interrupted study (a cell and the table missing) reruns that cell only; a finished one nothing."""
    workdir, command = smoke_run
    nothing = subprocess.run(command + ["--dry-run"], capture_output=True, text=True)
    assert "Nothing to be done" in nothing.stdout + nothing.stderr
    (workdir / "results/tables/benchmarks.csv").unlink()
    next((workdir / "results/cells").glob("numpy_bptt_T32_*.json")).unlink()
    plan = subprocess.run(command + ["--dry-run"], capture_output=True, text=True).stdout
    jobs = dict(line.split() for line in plan.split("Job stats:")[1].splitlines() if len(line.split()) == 2)
    assert jobs["measure_cell"] == "1" and "matmul_peak" not in jobs, plan


def test_default_profile_is_used_by_plain_snakemake():
    done = subprocess.run([sys.executable, "-m", "snakemake", "--dry-run", "--verbose"], capture_output=True, text=True, cwd=ROOT)
    output = done.stdout + done.stderr
    assert "workflow specific profile" in output and "timed=1" in output


def test_lint_and_format_are_clean():
    lint = subprocess.run(SNAKEMAKE + ["--lint"], capture_output=True, text=True, cwd=ROOT)
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    snakefmt = shutil.which("snakefmt") or pytest.skip("snakefmt not installed")
    fmt = subprocess.run([snakefmt, "--check", "Snakefile", "workflow"], capture_output=True, text=True, cwd=ROOT)
    assert fmt.returncode == 0, fmt.stderr
