"""One measured cell of the grid: a spec in, a flat BENCHMARK_COLUMNS row out.

The measuring happens in a worker process (bptt_bench.measure.worker) whose threads,
CPU affinity and BLAS kernel are set before any framework is imported, and which forks
a fresh process per cell; this side only checks the specs, applies the budget, and
records faults as statuses, so one bad cell never stops a study.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property

import implementations
from implementations.contract import CELLS, DEVICES, check_choice, check_method, check_positive_int

from .. import defaults
from ..costmodel import MODES, cost
from ..tables import BENCHMARK_COLUMNS
from .process import run_cells_in_worker
from .provenance import provenance


# A cell whose CPU seconds exceed its wall seconds by more than this factor per thread used
# more cores than its `threads` says (flagged in the row's cpu_over_threads).
CPU_PER_WALL_TOLERANCE = 1.15
DEFAULT = defaults.BENCHMARK  # the config schema's defaults: one source for the study and the CLI


@dataclass(frozen=True)
class CellSpec:
    impl: str
    method: str
    T: int
    B: int = DEFAULT["B"]
    H: int = DEFAULT["H"]
    D: int = DEFAULT["D"]
    O: int = DEFAULT["O"]
    k1: int | None = None
    k2: int | None = None
    dtype: str = DEFAULT["dtype"]
    threads: int = DEFAULT["threads"]
    repeats: int = DEFAULT["repeats"]  # at most; at least min_repeats, and more only while under repeat_time_s
    min_repeats: int = DEFAULT["min_repeats"]
    repeat_time_s: float = DEFAULT["repeat_time_s"]
    lr: float = DEFAULT["lr"]  # SGD step of the timed training-mode pass
    seed: int = DEFAULT["seed"]
    time_limit_s: float = DEFAULT["time_limit_s"]
    memory_budget_bytes: int | None = int(DEFAULT["memory_budget_gib"] * defaults.GIB)
    segment: int | None = None  # checkpointed BPTT's spacing c; None = ceil(sqrt(T))
    cell: str = "rnn_tanh"
    mode: str = "training"  # what is timed: "training" (one sequence, with its updates) or "gradient"
    device: str = "cpu"  # 'cuda': a skipped row where the implementation has none (worker decides)

    def __post_init__(self):
        if self.impl not in implementations.NAMES:
            raise ValueError(f"impl: unknown implementation {self.impl!r}; known: {', '.join(implementations.NAMES)}")
        check_method(self.method, self.k1, self.k2, self.segment)
        for name in ("T", "B", "H", "D", "O", "threads", "repeats", "min_repeats"):
            check_positive_int(name, getattr(self, name))
        check_choice("dtype", self.dtype, ("float32", "float64"))
        check_choice("cell", self.cell, CELLS)
        check_choice("mode", self.mode, MODES)
        check_choice("device", self.device, DEVICES)
        for name in ("time_limit_s", "lr", "repeat_time_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
        if not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s must be > 0; got {self.time_limit_s}")

    @cached_property
    def cost(self):
        return cost(self.method, self.T, self.B, self.D, self.H, self.O, self.dtype, self.k1, self.k2, self.mode,
                    segment=self.segment, cell=self.cell)


def measure_cell(spec: CellSpec, peak: dict | None = None) -> dict:
    """Measure `spec` in a worker process; the row's status says whether it worked.

    peak: the machine_peak() record of the cell's device and dtype, which the row's
    peak_fraction refers to (None: not known).
    """
    return measure_cells([spec], peak)[0]


def measure_cells(specs: list[CellSpec], peak: dict | None = None) -> list[dict]:
    """The rows of `specs`, in order, measured one after another (never two at once).

    Cells of one implementation and thread count share a worker (a fork server: each cell
    still runs in a process of its own). A cell over the memory budget is a skipped row,
    never run.
    """
    results: list[dict | None] = [None if _within_budget(spec) else {
        "status": "skipped",
        "reason": f"analytic activation memory {spec.cost.activation_bytes} B exceeds the budget {spec.memory_budget_bytes} B",
    } for spec in specs]
    groups: dict[tuple[str, int], list[int]] = {}
    for index, spec in enumerate(specs):
        if results[index] is None:
            groups.setdefault((spec.impl, spec.threads), []).append(index)
    for (_, threads), indices in groups.items():
        measured = run_cells_in_worker([asdict(specs[index]) for index in indices], threads)
        for index, result in zip(indices, measured):
            results[index] = result
    return [_row(spec, result, peak or {}) for spec, result in zip(specs, results)]


def _within_budget(spec: CellSpec) -> bool:
    return spec.memory_budget_bytes is None or spec.cost.activation_bytes <= spec.memory_budget_bytes


def _row(spec: CellSpec, result: dict, peak: dict) -> dict:
    """The flat row: spec, analytic cost, what the worker measured (NaN where it did not), provenance."""
    model = spec.cost
    nan = math.nan
    time_median = result.get("time_median_s", nan)
    gflops = model.flops / time_median / 1e9 if time_median == time_median and time_median > 0 else nan
    cpu_per_wall = result.get("cpu_per_wall", nan)
    machine = float(peak.get("peak_gflops_per_s", nan))
    own_gemm = float(peak.get("per_impl", {}).get(spec.impl, {}).get("gflops_per_s", nan))
    row = {
        "impl": spec.impl, "cell": spec.cell, "method": spec.method, "mode": spec.mode, "T": spec.T, "k1": spec.k1,
        "k2": spec.k2,
        "segment": spec.segment,
        "B": spec.B, "H": spec.H, "D": spec.D, "O": spec.O, "dtype": spec.dtype, "threads": spec.threads,
        "device": spec.device, "seed": spec.seed, "status": result["status"], "reason": result.get("reason", ""),
        "n_repeats": result.get("n_repeats", 0),
        **{key: result.get(key, nan) for key in (
            "time_median_s", "time_iqr_s", "time_min_s", "n_outliers", "time_total_s", "cpu_s", "cpu_per_wall", "compile_s",
            "import_s", "setup_s", "cell_wall_s",
            "peak_rss_bytes", "framework_peak_bytes", "loss", "grad_norm")},
        "analytic_activation_bytes": model.activation_bytes, "flops": model.flops,
        "gflops_per_s": gflops, "peak_gflops_per_s": machine, "impl_gemm_gflops_per_s": own_gemm,
        "peak_fraction": gflops / machine,
        "cpu_over_threads": bool(cpu_per_wall > CPU_PER_WALL_TOLERANCE * spec.threads),
        **provenance(result.get("blas", ""), result.get("environment", ""), result.get("utc_time")),
    }
    return {column: row[column] for column in BENCHMARK_COLUMNS}
