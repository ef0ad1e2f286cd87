"""The study on a cluster: what each job asks SLURM for, and peaks that belong to one kind of CPU.

The study run under a real SLURM is tests/slurm/run.sh (root only; .ci/run runs it).
"""

import math
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bptt_bench.measure.process import KILL_GRACE_S
from bptt_bench.measure.peak import peak_for_this_cpu
from bptt_bench.measure.provenance import cpu_model, provenance
from bptt_bench.study.config import load_config
from bptt_bench.study.grid import blocks

ROOT = Path(__file__).resolve().parents[1]


def test_rows_and_peaks_name_their_node():
    assert provenance()["node"] == platform.node()
    here = {"cpu_model": cpu_model(), "per_impl": {"numpy": {}}, "dtype": "float32", "threads": 1}
    assert peak_for_this_cpu(here) is here


def test_a_peak_from_another_cpu_model_is_measured_again_here():
    elsewhere = {"cpu_model": "another CPU", "node": "node-b", "per_impl": {"numpy": {}}, "dtype": "float32", "threads": 1}
    peak = peak_for_this_cpu(elsewhere)
    assert (peak["cpu_model"], peak["node"], list(peak["per_impl"])) == (cpu_model(), platform.node(), ["numpy"])
    assert peak["peak_gflops_per_s"] > 0


def job_resources(output: str, rule: str) -> list[dict[str, str]]:
    """The `resources:` of every job of `rule` in a dry run's output."""
    jobs = []
    for block in output.split(f"rule {rule}:")[1:]:
        line = next(line for line in block.splitlines() if line.strip().startswith("resources:"))
        jobs.append(dict(item.split("=", 1) for item in line.split(":", 1)[1].strip().split(", ")))
    return jobs


def all_jobs(output: str) -> dict[str, list[tuple[int, dict[str, str]]]]:
    """Rule -> (threads, resources) of each of its jobs in a dry run's output."""
    jobs: dict[str, list] = {}
    for block in output.split("\nrule ")[1:]:
        rule, lines = block.split(":", 1)[0], block.splitlines()
        threads = next((int(line.split(":")[1]) for line in lines if line.strip().startswith("threads:")), 1)
        jobs.setdefault(rule, []).append((threads, job_resources("rule x:" + block, "x")[0]))
    return jobs


def test_slurm_profile_gives_each_timed_job_a_node_of_its_own(tmp_path):
    """Also with a rule's resources changed on the command line (which replaces the profile's set-resources)."""
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="the slurm extra is not installed")
    done = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--dry-run",
                           "--workflow-profile", str(ROOT / "workflow/profiles/slurm"), "--directory", str(tmp_path),
                           "--configfile", str(ROOT / "config/smoke.yaml"), "--set-resources", "learning_part:runtime=120"],
                          capture_output=True, text=True, cwd=ROOT)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    cells, peaks = job_resources(output, "measure_block"), job_resources(output, "matmul_peak")
    block_sizes = sorted(len(cells) for cells in blocks(load_config(ROOT / "config/smoke.yaml")).values())
    assert len(cells) == len(block_sizes) and len(peaks) == 1
    runtimes = [math.ceil(n * (60 + KILL_GRACE_S) / 60) + 10 for n in block_sizes]  # smoke time_limit_s: 60
    for job in cells + peaks:
        assert job["slurm_extra"] == "--exclusive" and job["cpus_per_task"] == "1", job
    assert sorted(int(job["runtime"]) for job in cells) == runtimes, cells
    assert all(job["mem_mb"] == "4096" for job in cells), cells[0]
    for rule, jobs in all_jobs(output).items():  # a new timed rule needs the same (and set-threads in the profile)
        for threads, job in jobs:
            assert ("timed" not in job or job.get("slurm_extra") == "--exclusive") and threads == 1, (rule, threads, job)
    for job in job_resources(output, "learning_part"):
        assert "slurm_extra" not in job and job["runtime"] == "120" and job["mem_mb"] == "4096", job
    assert job_resources(output, "benchmark_table")[0]["runtime"] == "60"
    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm/profile.yaml").read_text())
    assert "resources" not in profile  # no `timed` cap: timed cells run at once, each on its own node
