"""The GPU side of the study, checked where no GPU is needed: the `device` setting, skipped rows
for cuda without one, the matmul peak per device, and the GPU tables' analysis."""

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

import implementations
from bptt_bench.analysis.benchmarks import apart_by_device, cudnn_speedup
from bptt_bench.measure.cell import CellSpec, measure_cell
from bptt_bench.measure.peak import machine_peak
from bptt_bench.measure.worker import out_of_device_memory
from bptt_bench.study.config import ConfigError, check_config, load_config
from bptt_bench.study.grid import cell_id, expand

ROOT = Path(__file__).resolve().parents[1]
NO_GPU = not implementations.load("torch").device_available("cuda")


def smoke(**benchmark):
    config = yaml.safe_load((ROOT / "config/smoke.yaml").read_text())
    config["benchmark"].update(benchmark)
    return config


@pytest.mark.parametrize("where, value, field", [
    ("benchmark", ["gpu"], "benchmark.device[0]"),
    ("benchmark", "cuda", "benchmark.device"),
    ("benchmark", [], "benchmark.device"),
    ("grid", ["cpu", "tpu"], "benchmark.grids[0].device[1]"),
])
def test_bad_device_names_the_field(where, value, field):
    config = smoke()
    (config["benchmark"] if where == "benchmark" else config["benchmark"]["grids"][0])["device"] = value
    with pytest.raises(ConfigError, match=rf"config error at {field.replace('[', '.').replace(']', '.')}"):
        check_config(config)


def test_device_is_a_grid_dimension_and_cpu_ids_keep_their_names():
    cpu_only = expand(check_config(smoke()))
    both = expand(check_config(smoke(device=["cpu", "cuda"])))
    assert all(spec.device == "cpu" and not name.endswith("_cuda") for name, spec in cpu_only.items())
    gpu = {name: spec for name, spec in both.items() if spec.device == "cuda"}
    assert set(both) - set(gpu) == set(cpu_only)  # every CPU cell keeps its id
    assert gpu and all(name.endswith("_cuda") for name in gpu)
    assert all(not spec.impl == "numpy" or spec.T != 22 for spec in gpu.values())  # loss-curve cells stay on the CPU
    spec = next(iter(gpu.values()))
    assert cell_id(spec) == cell_id(dataclasses.replace(spec, device="cpu")) + "_cuda"


def test_gpu_configs_are_valid():
    for name in ("gpu.yaml", "gpu_check.yaml"):
        cells = expand(load_config(ROOT / "config" / name))
        assert any(spec.device == "cuda" and spec.H == 1024 and spec.B == 64 for spec in cells.values())


def test_cell_spec_rejects_an_unknown_device():
    with pytest.raises(ValueError, match="device"):
        CellSpec(impl="torch", method="bptt", T=8, device="gpu")


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU: the cuda cell would run")
@pytest.mark.parametrize("impl, reason", [("torch", "sees no CUDA device"), ("jax", "sees no CUDA device"),
                                          ("numpy", "not supported by implementation 'numpy'")])
def test_cuda_without_a_gpu_is_a_skipped_row_with_its_reason(impl, reason):
    spec = CellSpec(impl=impl, method="bptt", T=8, B=2, H=4, D=2, O=2, repeats=1, device="cuda")
    row = measure_cell(spec)
    assert row["status"] == "skipped" and reason in row["reason"] and row["device"] == "cuda"
    assert math.isnan(row["time_median_s"])  # nothing ran on the CPU in its place
    assert measure_cell(dataclasses.replace(spec, device="cpu"))["status"] == "ok"  # the study goes on


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_peak_is_keyed_by_device():
    gpu = machine_peak(["numpy", "torch"], device="cuda")
    assert gpu["device"] == "cuda" and math.isnan(gpu["peak_gflops_per_s"]) and gpu["peak_impl"] is None
    assert set(gpu["skipped"]) == {"numpy", "torch"} and gpu["per_impl"] == {}
    cpu = machine_peak(["numpy"], device="cpu")
    assert cpu["device"] == "cpu" and cpu["peak_impl"] == "numpy" and cpu["peak_gflops_per_s"] > 0


def test_dry_run_plans_cuda_cells_and_the_gpu_peak(tmp_path):
    config = smoke(device=["cpu", "cuda"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-s", str(ROOT / "Snakefile"),
                           "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
                           "--cores", "1", "results/tables/benchmarks.csv"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout + done.stderr
    assert "matmul_peak_cuda" in out and "peak_float32_1t_cuda.json" in out and "peak_float32_1t.json" in out
    assert "scaling_torch_1t_cuda.json" in out and "scaling_torch_1t.json" in out


@pytest.mark.parametrize("name, message, oom", [
    ("OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB", True),
    ("XlaRuntimeError", "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1 bytes", True),
    ("RuntimeError", "shape mismatch", False),
])
def test_device_memory_errors_are_oom(name, message, oom):
    assert out_of_device_memory(type(name, (Exception,), {})(message)) is oom


def test_gpu_rows_apart_and_cudnn_speedup():
    base = dict(cell="rnn_tanh", mode="training", method="bptt", T=64, k1=None, k2=None, segment=None, B=2, H=4, D=2, O=2, dtype="float32", status="ok")
    rows = pd.DataFrame([{**base, "impl": "torch", "device": "cuda", "time_median_s": 6.0},
                         {**base, "impl": "torch_nn", "device": "cuda", "time_median_s": 2.0},
                         {**base, "impl": "torch", "device": "cpu", "time_median_s": 9.0},
                         {**base, "impl": "torch_nn", "device": "cpu", "time_median_s": 1.0}])
    assert list(apart_by_device(rows)["impl"]) == ["torch on cuda", "torch_nn on cuda", "torch", "torch_nn"]
    speedup = cudnn_speedup(rows)
    assert len(speedup) == 1 and speedup["speedup"].iloc[0] == pytest.approx(3.0)


def test_the_h200_table_draws_device_memory_apart_from_the_hosts():
    """The GPU check's table (docs/gpu/): a GPU panel's shared row says it is the host's RSS, and its own
    row names the device memory each framework counts there; the CPU reference keeps its labels."""
    from bptt_bench.figures.benchmarks import draw_memory_vs_T

    table = apart_by_device(pd.read_csv(Path(__file__).parents[1] / "docs/gpu/h200_2026-11-28.csv"))
    titles = [ax.get_title() for ax in draw_memory_vs_T(table[table["H"] == 1024]).axes]
    assert sum(title.split("\n")[1:2] == ["the host's RSS; device memory below"] for title in titles[:4]) == 3
    assert titles[0].startswith("torch\n") and "host" not in titles[0]  # the CPU reference
    assert {"torch on cuda native:\ncuda memory, allocator peak (own axis)",
            "jax on cuda native:\ncuda memory, XLA temp buffers (own axis)",
            "torch_nn on cuda native:\ncuda memory, allocator peak (own axis)",
            "torch native: saved tensors (own axis)"} <= set(titles)
