"""The measurement modules, each on its own: statistics, memory, cost model, cells and their faults."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import implementations
from bptt_bench.costmodel import cost, step_flops
from bptt_bench.measure import worker
from bptt_bench.measure.cell import CellSpec, measure_cell
from bptt_bench.measure.environment import cell_environment
from bptt_bench.measure.memory import measure_peak_rss
from bptt_bench.measure import peak as peak_module
from bptt_bench.measure.peak import machine_peak, matmul_gflops
from bptt_bench.measure.provenance import provenance
from bptt_bench.measure.timing import Timing
from bptt_bench.tables import BENCHMARK_COLUMNS, PROVENANCE_COLUMNS

TINY = dict(T=16, B=2, H=4, D=3, O=3)


def test_timing_statistics():
    timing = Timing((1.0, 2.0, 3.0, 4.0, 100.0))
    assert timing.median_s == 3.0 and timing.min_s == 1.0 and timing.iqr_s == 2.0
    assert timing.n_outliers == 1 and timing.n_repeats == 5


def test_repeats_stop_after_the_minimum_once_long_enough(monkeypatch):
    """At most `repeats`; after `min_repeats`, a stop as soon as the calls so far took `enough_s`."""
    from bptt_bench.measure import timing as timing_module

    def repeats_for(call_s, **policy):
        clock = iter(range(0, 10**6))  # perf_counter: each call lasts call_s (fake clock)
        monkeypatch.setattr(timing_module.time, "perf_counter", lambda: next(clock) * call_s)
        return timing_module.time_repeats(lambda: None, 5, **policy).n_repeats

    assert repeats_for(1.0, min_repeats=3, enough_s=2.0) == 3  # 3 s after three calls
    assert repeats_for(0.5, min_repeats=3, enough_s=2.0) == 4  # 1.5 s, then 2.0 s
    assert repeats_for(0.1, min_repeats=3, enough_s=2.0) == 5  # capped at repeats
    assert repeats_for(1.0, min_repeats=3, enough_s=0.0) == 3
    assert repeats_for(1.0) == 5  # no policy: every repeat
    assert repeats_for(1.0, min_repeats=9, enough_s=0.0) == 5  # the minimum is capped at repeats


def test_peak_rss_sees_a_new_buffer():
    _, grown = measure_peak_rss(lambda: np.ones(50 * 2**20 // 8).sum())
    _, idle = measure_peak_rss(lambda: None)
    assert grown is None or (grown >= 45 * 2**20 and idle < 5 * 2**20)


def test_cost_model():
    F = step_flops(B=2, D=3, H=4, O=5)
    assert F == 2 * 2 * (3 * 4 + 4 * 4 + 4 * 5)
    assert cost("bptt", 10, 2, 3, 4, 5, mode="gradient").flops == 3 * 10 * F
    assert cost("bptt", 10, 2, 3, 4, 5).activation_bytes == 10 * 2 * 4 * 4
    k_equal = cost("tbptt", 10, 2, 3, 4, 5, k1=4, k2=4)  # windows (0,4] (4,8] (6,10]: the last reaches 4 back
    assert (k_equal.forward_steps, k_equal.backward_steps) == (12, 12)
    short = cost("tbptt", 10, 2, 3, 4, 5, k1=5, k2=2)
    assert (short.forward_steps, short.backward_steps) == (10, 4)
    assert short.activation_bytes == 2 * 2 * 4 * 4
    assert cost("tbptt", 10, 2, 3, 4, 5, k1=2, k2=6, mode="gradient").forward_steps == 10


def test_cost_model_counts_the_updates():
    F, P = step_flops(B=2, D=3, H=4, O=5), 3 * 4 + 4 * 4 + 4 + 4 * 5 + 5
    bptt = cost("bptt", 10, 2, 3, 4, 5)
    assert bptt.updates == 1 and bptt.flops == 3 * 10 * F + 2 * P
    tbptt = cost("tbptt", 10, 2, 3, 4, 5, k1=4, k2=4)  # three segments, three updates
    assert tbptt.updates == 3 and tbptt.flops == (12 + 2 * 12) * F + 3 * 2 * P
    gradient = cost("tbptt", 10, 2, 3, 4, 5, k1=4, k2=4, mode="gradient")
    assert gradient.updates == 0 and gradient.flops == (10 + 2 * 12) * F
    with pytest.raises(ValueError, match="mode"):
        cost("bptt", 10, 2, 3, 4, 5, mode="inference")


def test_cell_environment_sets_threads():
    env = cell_environment(3, base={})
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "3"
    assert env["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true"


def test_cell_environment_keeps_user_settings():
    user = {"OPENBLAS_CORETYPE": "Haswell", "OMP_NUM_THREADS": "8", "OMP_WAIT_POLICY": "ACTIVE", "XLA_FLAGS": "--xla_dump_to=/tmp/dump"}
    env = cell_environment(1, base=user)
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and env["OMP_WAIT_POLICY"] == "ACTIVE"
    assert env["OMP_NUM_THREADS"] == "1"  # the cell's threads: Snakemake sets the rule's threads in every job
    assert env["XLA_FLAGS"] == "--xla_dump_to=/tmp/dump --xla_cpu_multi_thread_eigen=false"
    mine = "--xla_cpu_multi_thread_eigen=true"
    assert cell_environment(1, base={"XLA_FLAGS": mine})["XLA_FLAGS"] == mine


def test_user_xla_flags_reach_the_worker(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    row = measure_cell(CellSpec(impl="numpy", method="bptt", repeats=1, **TINY))
    assert row["status"] == "ok", row["reason"]
    assert "XLA_FLAGS=--xla_cpu_enable_fast_math=false --xla_cpu_multi_thread_eigen=false" in row["environment"]


def test_provenance_fields():
    record = provenance("some BLAS")
    assert list(record) == PROVENANCE_COLUMNS and record["blas"] == "some BLAS" and record["environment"] == ""
    assert record["numpy_version"] == np.__version__


def test_matmul_peak_is_positive():
    assert matmul_gflops(implementations.load("numpy"), n=256, repeats=2) > 0.1


def test_machine_peak_measures_each_framework_once(monkeypatch):
    started = []

    def fake_worker(job, threads, timeout_s):
        started.append(job["peak"])
        return {"gflops": {"numpy": 50.0, "torch": 80.0}[job["peak"]], "blas": job["peak"]}

    monkeypatch.setattr(peak_module, "run_in_worker", fake_worker)
    peak = machine_peak(["numpy", "torch", "torch_nn"])
    assert started == ["numpy", "torch"]  # torch_nn is PyTorch: no worker of its own
    assert peak["per_impl"]["torch_nn"] == {"gflops_per_s": 80.0, "backend": "torch", "measured_as": "torch"}
    assert (peak["peak_gflops_per_s"], peak["peak_impl"]) == (80.0, "torch")


def test_cell_spec_rejects_bad_fields():
    with pytest.raises(ValueError, match="impl"):
        CellSpec(impl="tensorflow", method="bptt", **TINY)
    with pytest.raises(ValueError, match="k1"):
        CellSpec(impl="numpy", method="tbptt", k1=0, k2=2, **TINY)
    with pytest.raises(ValueError, match="dtype"):
        CellSpec(impl="numpy", method="bptt", dtype="float16", **TINY)


def test_cell_row_in_a_worker_process():
    peak = {"peak_gflops_per_s": 100.0, "per_impl": {"numpy": {"gflops_per_s": 50.0}}}
    row = measure_cell(CellSpec(impl="numpy", method="tbptt", k1=4, k2=8, repeats=2, **TINY), peak)
    assert list(row) == BENCHMARK_COLUMNS
    assert row["status"] == "ok" and row["n_repeats"] == 2 and row["time_median_s"] > 0
    assert math.isclose(row["peak_fraction"], row["gflops_per_s"] / 100.0) and row["impl_gemm_gflops_per_s"] == 50.0
    assert row["blas"] and row["framework_peak_bytes"] > 0
    assert row["mode"] == "training" and row["cpu_s"] > 0 and not math.isnan(row["cpu_per_wall"])


def test_prepare_leaves_nothing_for_a_measured_cell_to_import():
    """After impl.prepare(methods), as the measuring process calls it before its first cell, no
    method's first call imports a module (an import inside a cell would count in its time and
    RSS): PyTorch's checkpointed BPTT imports torch._dynamo on its first call unless prepared.
    A fresh interpreter, so that no other test has imported anything yet."""
    code = """
import sys
import implementations
from bptt_bench.problems import random_problem
METHODS = {"bptt": {}, "tbptt": {"k1": 4, "k2": 8}, "checkpointed": {"segment": 8}}
for name in implementations.NAMES:
    impl = implementations.load(name)
    impl.prepare(set(METHODS))
    params, x, y, mask = random_problem(16, 2, 3, 4, 3, "float32", seed=0)
    impl.train(params, x, y, mask, "bptt", lr=0.1)  # the framework's own first-call set-up
    before = set(sys.modules)
    for method, options in METHODS.items():
        impl.train(params, x, y, mask, method, lr=0.1, **options)
    print(name, *sorted(set(sys.modules) - before))
"""
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert lines.splitlines() == list(implementations.NAMES), lines


def test_loss_of_a_row_is_the_timed_training_pass():
    """BPTT and TBPTT rows time training; the loss is the sum of L_j of one pass, the gradient
    norm that of the summed updates (for BPTT: the gradient's)."""
    impl = implementations.load("numpy")
    from bptt_bench.problems import random_problem

    params, x, y, mask = random_problem(TINY["T"], TINY["B"], TINY["D"], TINY["H"], TINY["O"], "float64", seed=0)
    bptt_loss, grads = impl.loss_and_grad(params, x, y, mask)
    row = measure_cell(CellSpec(impl="numpy", method="bptt", dtype="float64", repeats=2, **TINY))
    assert row["mode"] == "training" and math.isclose(row["loss"], bptt_loss, rel_tol=1e-12)
    norm = math.sqrt(sum(float((g**2).sum()) for g in grads.values()))
    assert math.isclose(row["grad_norm"], norm, rel_tol=1e-9)
    losses, _ = impl.train_tbptt(params, x, y, mask, k1=4, k2=8, lr=0.01)
    row = measure_cell(CellSpec(impl="numpy", method="tbptt", k1=4, k2=8, dtype="float64", repeats=2, **TINY))
    assert row["mode"] == "training" and math.isclose(row["loss"], math.fsum(losses), rel_tol=1e-12)
    gradient = measure_cell(CellSpec(impl="numpy", method="tbptt", k1=4, k2=8, repeats=1, mode="gradient", **TINY))
    assert gradient["mode"] == "gradient" and gradient["flops"] < row["flops"]


def test_time_limit_becomes_a_timeout_row():
    row = measure_cell(CellSpec(impl="numpy", method="bptt", time_limit_s=1e-9, **TINY))
    assert row["status"] == "timeout" and "time limit" in row["reason"]


def test_memory_budget_skips_without_running():
    row = measure_cell(CellSpec(impl="numpy", method="bptt", memory_budget_bytes=10, **TINY))
    assert row["status"] == "skipped" and "budget" in row["reason"] and math.isnan(row["time_median_s"])


def spec_job(**changes):
    from dataclasses import asdict

    return asdict(CellSpec(impl="numpy", method="bptt", repeats=1, **TINY)) | changes


def test_raising_cell_becomes_an_error_row(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(implementations.load("numpy"), "train", broken)
    result = worker.run_job(spec_job())
    assert result == {"status": "error", "reason": "RuntimeError: kernel exploded"}


def test_non_finite_loss_becomes_a_nan_row(monkeypatch):
    impl = implementations.load("numpy")
    original = impl.train
    monkeypatch.setattr(impl, "train", lambda *a, **k: ([math.nan], original(*a, **k)[1]))
    result = worker.run_job(spec_job())
    assert result["status"] == "nan" and "non-finite" in result["reason"]


def test_one_thread_jobs_side_by_side_take_different_cpus(tmp_path):
    """enter_job pins each one-thread job to a CPU no other holds; with every CPU taken the next runs
    unpinned; a job's CPU is free again once its process ends; a several-thread job is never pinned."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    code = ("import os, sys; from pathlib import Path; from bptt_bench.measure.environment import enter_job; "
            "cpu = enter_job(int(sys.argv[1]), Path(sys.argv[2])); "
            "print(cpu, sorted(os.sched_getaffinity(0)), os.environ['OMP_NUM_THREADS'], flush=True); "
            "sys.stdin.read()")

    def job(threads=1):
        process = subprocess.Popen([sys.executable, "-c", code, str(threads), str(tmp_path)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        cpu, affinity = process.stdout.readline().split(" ", 1)
        assert affinity.endswith(f" {threads}\n")  # OMP_NUM_THREADS: the job's threads
        assert cpu == "None" or affinity.startswith(f"[{cpu}] ")  # a pinned job runs on its CPU alone
        return process, cpu

    jobs = [job() for _ in cpus]
    assert sorted(int(cpu) for _, cpu in jobs) == cpus
    extra, cpu = job()
    assert cpu == "None"
    several, cpu = job(threads=2)
    assert cpu == "None"
    first, freed = jobs[0]
    for process in (first, extra, several):
        process.communicate("")
    again, cpu = job()
    assert cpu == freed
    for process in [again] + [p for p, _ in jobs[1:]]:
        process.communicate("")
