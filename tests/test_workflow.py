"""The Snakemake study: config checking, one smoke-sized run end to end, lint and format."""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bptt_bench import tables, tasks
from bptt_bench.analysis.benchmarks import in_grid
from bptt_bench.cli import parser
from bptt_bench.measure.cell import CellSpec
from bptt_bench.study.config import ConfigError, check_config, load_config
from bptt_bench.study.grid import blocks, expand, memberships
from bptt_bench.tables import BENCHMARK_TABLE_COLUMNS, STATUSES

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
    assert list(memberships(config).values()).count("g") == 3 * 2  # three impls x (BPTT, TBPTT(16, 32))
    assert config["learning"]["impl"] == "numpy"


def test_one_source_for_each_default():
    """CellSpec and the command line take the schema's defaults (bptt_bench.defaults)."""
    benchmark = check_config(minimal())["benchmark"]
    spec = CellSpec(impl="numpy", method="bptt", T=8)
    for name in ("B", "H", "D", "O", "dtype", "threads", "repeats", "lr", "seed", "time_limit_s"):
        assert getattr(spec, name) == benchmark[name], name
    assert spec.memory_budget_bytes == benchmark["memory_budget_gib"] * 2**30
    args = parser().parse_args(["measure", "--impl", "numpy", "--method", "bptt", "--T", "8"])
    assert all(getattr(args, name) is None for name in ("B", "H", "repeats", "time_limit_s"))  # CellSpec decides


def test_pareto_cells_follow_the_loss_curve_settings():
    config = check_config(minimal())
    curves = config["learning"]["loss_curves"]
    cells = expand(config)
    for task, params in curves["tasks"].items():
        info = tasks.info(task, **params)
        ids = [cell for cell, grid in memberships(config).items() if grid == f"loss_curves_{task}"]
        got = {(cells[i].method, cells[i].k1, cells[i].k2) for i in ids}
        assert got == {tuple(setting) for setting in curves["settings"]}
        assert {(cells[i].impl, cells[i].T, cells[i].B, cells[i].H, cells[i].D, cells[i].O, cells[i].dtype) for i in ids} == {
            (config["learning"]["impl"], info.T, curves["B"], curves["H"], info.D, info.O, config["learning"]["dtype"])}


def test_a_cell_in_two_grids_is_measured_once_and_named_by_both():
    config = minimal()
    config["benchmark"]["grids"].append({"name": "h", "impls": ["numpy"], "T": [64], "bptt": False, "truncations": [[16, 32]]})
    names = memberships(check_config(config))
    assert names["numpy_tbptt_T64_k16-32_B32_H256_D32_O32_float32_1t"] == "g,h"
    table = pd.DataFrame({"grid": ["g,h", "g", "loss_curves_digits"]})
    assert in_grid(table, "h").tolist() == [True, False, False]
    assert in_grid(table, "g").tolist() == [True, True, False]


def test_blocks_are_a_grids_cells_of_one_implementation():
    """One timed job per (grid, implementation): every cell in exactly one block, that of its first grid."""
    config = minimal()
    config["benchmark"]["grids"].append({"name": "h", "impls": ["numpy"], "T": [64, 128], "truncations": [[16, 32]]})
    found = blocks(check_config(config))
    assert set(found) == {f"g_{impl}_1t" for impl in ("numpy", "torch", "jax")} | {"h_numpy_1t"} | {
        f"loss_curves_{task}_numpy_1t" for task in config["learning"]["loss_curves"]["tasks"]}
    assert found["h_numpy_1t"] == ["numpy_bptt_T128_B32_H256_D32_O32_float32_1t",
                                   "numpy_tbptt_T128_k16-32_B32_H256_D32_O32_float32_1t"]  # T=64's are g's
    every = [cell for cells in found.values() for cell in cells]
    assert sorted(every) == sorted(expand(check_config(config)))


def test_config_numbers_given_as_strings_are_read_as_numbers():
    """`snakemake --config 'benchmark={repeats: 2}'` delivers '2' (YAML BaseLoader)."""
    config = minimal()
    config["benchmark"] |= {"repeats": "2", "lr": "0.5"}
    config["learning"]["loss_curves"]["settings"] = [["tbptt", "4", "4"], ["bptt", "null", "null"]]
    checked = check_config(config)
    assert checked["benchmark"]["repeats"] == 2 and checked["benchmark"]["lr"] == 0.5
    assert checked["learning"]["loss_curves"]["settings"] == [["tbptt", 4, 4], ["bptt", None, None]]
    with pytest.raises(ConfigError, match="benchmark.repeats"):
        check_config(with_change(["benchmark", "repeats"], "two"))


def test_per_cell_settings_reach_only_their_cell():
    from bptt_bench.study.learning import parts

    config = minimal()
    config["learning"]["learnable_lag"] |= {
        "cells": ["rnn_tanh", "lstm"], "per_cell": {"lstm": {"regimes": ["gradient"], "seeds": [7]}}}
    jobs = parts(check_config(config))["learnable_lag"]
    lstm = [kwargs for name, kwargs in jobs.items() if name.startswith("lstm_")]
    elman = [kwargs for name, kwargs in jobs.items() if not name.startswith("lstm_")]
    assert lstm and all(kw["cell"] == "lstm" and kw["regimes"] == ["gradient"] and kw["seeds"] == [7] for kw in lstm)
    assert elman and all(kw["cell"] == "rnn_tanh" and kw["seeds"] != [7] and "per_cell" not in kw for kw in elman)


def test_default_full_and_smoke_configs_are_valid():
    for name in ("config.yaml", "full.yaml", "smoke.yaml"):
        assert expand(load_config(ROOT / "config" / name))


def test_the_full_study_is_the_default_with_every_grid_in_every_framework():
    """config/full.yaml differs from config/config.yaml only in its grids, which hold the default's cells and more."""
    default, full = (load_config(ROOT / "config" / name) for name in ("config.yaml", "full.yaml"))
    grids = [config["benchmark"].pop("grids") for config in (default, full)]
    assert full == default
    assert all("impls" not in grid for grid in grids[1]) and [g["name"] for g in grids[1]] == [g["name"] for g in grids[0]]
    default["benchmark"]["grids"], full["benchmark"]["grids"] = grids
    assert set(expand(default)) < set(expand(full))


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
    ("per-cell lags", ["learning", "learnable_lag", "per_cell"], {"lstm": {"lags": [2]}}, "'lags' was unexpected"),
    ("per-cell unknown cell", ["learning", "learnable_lag", "per_cell"], {"elman": {"seeds": [0]}},
     "learning.learnable_lag.per_cell"),
    ("per-cell lr of 0", ["learning", "learnable_lag", "per_cell"], {"gru": {"lrs": [0.1, 0]}},
     "learning.learnable_lag.per_cell.gru.lrs[1]"),
    ("bias impl", ["learning", "gradient_bias", "impls"], ["numpy", "mxnet"], "learning.gradient_bias.impls"),
    ("task parameter", ["learning", "loss_curves", "tasks"], {"copy_memory": {"blank": 0}}, "learning.loss_curves.tasks.copy_memory"),
    ("negative clip", ["learning", "clip"], -1.0, "learning.clip"),
    ("infinite time limit", ["benchmark", "time_limit_s"], math.inf, "benchmark.time_limit_s: must be a finite"),
    ("NaN memory budget", ["benchmark", "memory_budget_gib"], math.nan, "benchmark.memory_budget_gib"),
    ("NaN learning rate", ["learning", "loss_curves", "lr"], math.nan, "learning.loss_curves.lr"),
    ("infinite cell lr", ["benchmark", "lr"], math.inf, "benchmark.lr"),
    ("decay T of 1", ["learning", "gradient_decay", "T"], 1, "learning.gradient_decay.T"),
    ("integral float", ["benchmark", "H"], 8.0, "benchmark.H"),
    ("integral float in a grid", ["benchmark", "grids", 0, "T"], [64.0], "benchmark.grids[0].T[0]"),
    ("threads beyond the CPUs", ["benchmark", "threads"], 100_000, "benchmark.threads"),
    ("grid of no cells", ["benchmark", "grids", 0, "bptt"], False, "benchmark.grids[0]: expands to no cells"),
    ("grid name taken by loss_curves", ["benchmark", "grids", 0, "name"], "loss_curves_digits", "benchmark.grids"),
]


def with_change(path, value):
    config = minimal()
    if path[-1] == "bptt":
        config["benchmark"]["grids"][0].pop("truncations")
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


@pytest.mark.parametrize("path, value, words", [
    (["benchmark", "grids", 0, "T"], [64, -3], "benchmark.grids[0].T[1]"),
    (["benchmark", "time_limit_s"], math.inf, "benchmark.time_limit_s"),
    (["benchmark", "memory_budget_gib"], math.nan, "benchmark.memory_budget_gib"),
    (["benchmark", "H"], 8.0, "benchmark.H"),
    (["learning", "gradient_decay", "T"], 1, "learning.gradient_decay.T"),
], ids=["negative T", "infinite time limit", "NaN budget", "integral float", "decay T of 1"])
def test_bad_config_stops_snakemake_before_any_job(tmp_path, path, value, words):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(with_change(path, value)))
    done = subprocess.run(SNAKEMAKE + ["--cores", "1", "--directory", str(tmp_path), "--configfile", str(config)],
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert words in done.stderr + done.stdout
    assert not (tmp_path / "results").exists()


def dry_run_from_root(*args):
    """A dry run of every job (--forceall: whatever a previous run left) from the repository root."""
    done = subprocess.run([sys.executable, "-m", "snakemake", "--dry-run", "--forceall", *args],
                          capture_output=True, text=True, cwd=ROOT)
    return done.returncode, done.stdout + done.stderr


def test_a_configfile_describes_the_whole_study(tmp_path):
    """Nothing comes from config/config.yaml when --configfile is given (it sits in the working directory)."""
    smoke = yaml.safe_load((ROOT / "config/smoke.yaml").read_text())
    del smoke["learning"]["loss_curves"]["tasks"]["digits"]
    (tmp_path / "one_task.yaml").write_text(yaml.safe_dump(smoke))
    code, output = dry_run_from_root("--configfile", str(tmp_path / "one_task.yaml"))
    assert code == 0 and "copy_memory_seed0" in output and "digits" not in output, output[-2000:]
    del smoke["benchmark"]["grids"]
    (tmp_path / "no_grids.yaml").write_text(yaml.safe_dump(smoke))
    code, output = dry_run_from_root("--configfile", str(tmp_path / "no_grids.yaml"))
    assert code != 0 and "config error at benchmark: 'grids' is a required property" in output, output[-2000:]


def test_config_on_the_command_line_can_set_a_number(tmp_path):
    done = subprocess.run(SNAKEMAKE + ["--dry-run", "--directory", str(tmp_path), "--configfile",
                                       str(ROOT / "config/smoke.yaml"), "--config", "benchmark={repeats: 2}"],
                          capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke study, run once into a fresh directory."""
    workdir = tmp_path_factory.mktemp("smoke")
    command = SNAKEMAKE + ["--cores", "8", "--directory", str(workdir), "--configfile", str(ROOT / "config/smoke.yaml")]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:] + failed_job_logs(workdir, done.stderr)
    return workdir, command


def failed_job_logs(workdir: Path, stderr: str) -> str:
    """The end of each log file Snakemake names for a failed job, for the assertion message."""
    failed = re.findall(r"Error in rule \w+:.*?\n\s+log: (\S+)", stderr, flags=re.S)
    return "".join(f"\n--- {log} ---\n" + ((workdir / log).read_text()[-3000:] if (workdir / log).exists() else "(absent)")
                   for log in failed)


@pytest.mark.workflow
def test_smoke_study_tables_and_figures(smoke_run):
    workdir, _ = smoke_run
    table = pd.read_csv(workdir / "results/tables/benchmarks.csv")
    assert list(table.columns) == BENCHMARK_TABLE_COLUMNS
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
               "learnable_lag", "loss_curves", "pareto", "gradient_bias", "gradient_decay", "frontier"]
    for name in figures:
        for ext in ("png", "pdf"):
            assert (workdir / f"results/figures/{name}.{ext}").stat().st_size > 1000
    for name in ("learnable_lag", "training", "gradient_bias", "gradient_decay"):
        learning = pd.read_csv(workdir / f"results/tables/{name}.csv")
        assert list(learning.columns) == getattr(tables, f"{name.upper()}_COLUMNS") and len(learning)
    findings = (workdir / "results/findings.html").read_text()
    assert "Findings" in findings and 'id="checkpointing"' in findings and 'id="frontier"' in findings
    errors = pd.read_csv(workdir / "results/tables/frontier_errors.csv")  # computed, not assumed
    assert set(errors["method"]) == {"bptt", "checkpointed", "tbptt"} and (errors["T"] == 64).all()
    assert (errors.loc[errors["method"] == "checkpointed", "relative_error"] < 1e-12).all()
    assert (errors.loc[errors["method"] == "tbptt", "relative_error"] > 1e-3).all()


@pytest.mark.workflow
def test_smoke_study_builds_the_paper(smoke_run):
    workdir, _ = smoke_run
    assert (workdir / "results/paper/paper.pdf").read_bytes().startswith(b"%PDF")
    claims = pd.read_csv(workdir / "results/tables/claims.csv")
    assert len(claims) >= 12 and set(claims["verdict"]) <= {"holds", "fails", "partly", "not tested"}
    numbers = json.loads((workdir / "results/paper/numbers.json").read_text())
    assert {"setup", "cells", "echo", "derivative_free", "truncated_norms"} <= set(numbers)
    if numbers["errors"]:  # the paper names them; say so here too, where CI shows it
        warnings.warn(f"paper sections that could not be computed: {numbers['errors']}")
    for name in ("echo", "derivative_free", "truncated_norms"):
        assert (workdir / f"results/figures/{name}.pdf").stat().st_size > 1000


@pytest.mark.workflow
def test_smoke_study_physics(smoke_run):
    """BPTT's memory grows with T; TBPTT's stays within 20% (framework-native figure), over the
    Elman cells of every grid (BPTT at T = 256 is over the smoke budget: T = 32 and 64 are compared)."""
    table = pd.read_csv(smoke_run[0] / "results/tables/benchmarks.csv").query("status == 'ok' and cell == 'rnn_tanh'")
    table = table[~in_grid(table, "loss_curves_copy_memory") & ~in_grid(table, "loss_curves_digits")]
    compared = 0
    for impl, rows in table.groupby("impl"):
        bptt = rows[rows["method"] == "bptt"].set_index("T")["framework_peak_bytes"]
        if {32, 64} <= set(bptt.index):
            assert bptt[64] > 1.5 * bptt[32], (impl, bptt.to_dict())
            compared += 1
        tbptt = rows[(rows["method"] == "tbptt") & (rows["k1"] == 8) & (rows["k2"] == 8)]["framework_peak_bytes"]
        assert len(tbptt) >= 2 and tbptt.max() <= 1.2 * tbptt.min(), (impl, tbptt.tolist())
    assert compared >= 2, "no two BPTT lengths in the smoke run"


@pytest.mark.workflow
def test_smoke_rows_time_one_computation_on_the_cores_they_say(smoke_run):
    """BPTT and TBPTT rows time the same mode; a 1-thread cell's CPU seconds stay within 1.15x wall."""
    table = pd.read_csv(smoke_run[0] / "results/tables/benchmarks.csv")
    assert set(table["mode"]) == {"training"}
    ok = table.query("status == 'ok' and threads == 1")
    assert len(ok) and (ok["cpu_s"] > 0).all()
    assert (ok["cpu_per_wall"] <= 1.15).all(), ok[["impl", "method", "T", "cpu_per_wall"]].to_string()
    assert not ok["cpu_over_threads"].any()


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
    assert "never awaited" not in done.stdout + done.stderr  # Snakemake's own warning, silenced in common.smk
    text = report.read_text()
    assert all(name in text for name in ("time_vs_T.png", "pareto.png", "frontier.png", "benchmarks.csv", "findings.html",
                                         "benchmarks.html", "training.html", "Start here"))


@pytest.mark.workflow
def test_a_corrupt_block_file_is_named_and_the_tables_kept(smoke_run):
    workdir, command = smoke_run
    cell = workdir / "results/cells/scaling_numpy_1t.json"
    table = workdir / "results/tables/benchmarks.csv"
    good_cell, good_table, stat = cell.read_text(), table.read_text(), cell.stat()
    cell.write_text("{")
    try:
        done = subprocess.run(command, capture_output=True, text=True)
        output = done.stdout + done.stderr
        assert done.returncode != 0 and str(cell.relative_to(workdir)) in output and "Delete it" in output, output[-2000:]
        assert table.read_text() == good_table
    finally:
        cell.write_text(good_cell)
        os.utime(cell, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.workflow
def test_result_files_follow_the_umask(smoke_run):
    umask = os.umask(0)
    os.umask(umask)
    for path in ["results/tables/benchmarks.csv", "results/findings.html", "results/figures/pareto.png"]:
        assert (smoke_run[0] / path).stat().st_mode & 0o777 == 0o666 & ~umask, path


@pytest.mark.workflow
def test_rerun_resumes_only_missing_blocks(smoke_run):  # last: it deletes outputs
    """An interrupted study (a block of cells and the table missing) reruns that block only; a finished one nothing."""
    workdir, command = smoke_run
    nothing = subprocess.run(command + ["--dry-run"], capture_output=True, text=True)
    assert "Nothing to be done" in nothing.stdout + nothing.stderr
    (workdir / "results/tables/benchmarks.csv").unlink()
    (workdir / "results/cells/scaling_numpy_1t.json").unlink()
    plan = subprocess.run(command + ["--dry-run"], capture_output=True, text=True).stdout
    jobs = dict(line.split() for line in plan.split("Job stats:")[1].splitlines() if len(line.split()) == 2)
    assert jobs["measure_block"] == "1" and "matmul_peak" not in jobs, plan


def test_default_profile_is_used_by_plain_snakemake():
    """Whatever a previous run left in the checkout: --forceall plans every job."""
    code, output = dry_run_from_root("--verbose")
    assert code == 0 and "workflow specific profile" in output and "timed=1" in output, output[-2000:]


def test_lint_and_format_are_clean():
    lint = subprocess.run(SNAKEMAKE + ["--lint"], capture_output=True, text=True, cwd=ROOT)
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    # Beside this Python (the venv's bin/), whether or not the venv is on PATH: `.venv/bin/python -m pytest`.
    snakefmt = shutil.which("snakefmt", path=str(Path(sys.executable).parent)) or shutil.which("snakefmt")
    assert snakefmt, "snakefmt not found beside sys.executable nor on PATH: pip install -e '.[test]'"
    fmt = subprocess.run([snakefmt, "--check", "Snakefile", "workflow"], capture_output=True, text=True, cwd=ROOT)
    assert fmt.returncode == 0, fmt.stderr


@pytest.mark.workflow
def test_a_deleted_block_file_is_measured_again(smoke_run):  # after the rerun test: whatever it left missing
    """Every block file is a target of the study, so a deleted one is measured and its table rebuilt."""
    workdir, command = smoke_run
    block = workdir / "results/cells/cells_torch_nn_1t.json"
    block.unlink()
    done = subprocess.run(command + ["--until", "benchmark_table"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert block.exists() and "measure_block" in done.stdout + done.stderr
    table = pd.read_csv(workdir / "results/tables/benchmarks.csv")
    assert len(table) == sum(len(json.loads(path.read_text())) for path in block.parent.glob("*.json"))
