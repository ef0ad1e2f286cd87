"""Expanding the checked configuration into the cells of the benchmark grid.

The grids are the config's `benchmark.grids` and, for the Pareto figure, one grid per
loss-curve task (`loss_curves_<task>`) derived from that experiment's own settings,
so that its training runs and its measured cells cannot drift apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from .. import defaults, tasks
from implementations.contract import default_segment

from ..measure.cell import CellSpec
from .learning import arguments

PARETO_PREFIX = "loss_curves_"


def cell_id(spec: CellSpec) -> str:
    """A readable, unique file name for a cell: numpy_tbptt_T1024_k16-32_B32_H256_D32_O32_float32_1t
    (numpy_lstm_tbptt_... for a gated cell; the Elman cell's ids carry no cell name; a non-CPU
    cell ends in its device: ..._float32_1t_cuda)."""
    truncation = f"_k{spec.k1}-{spec.k2}" if spec.method == "tbptt" else ""
    if spec.method == "checkpointed":
        truncation = f"_c{spec.segment or 'sqrt'}"
    cell = "" if spec.cell == "rnn_tanh" else f"_{spec.cell}"
    return (f"{spec.impl}{cell}_{spec.method}_T{spec.T}{truncation}_B{spec.B}_H{spec.H}_D{spec.D}_O{spec.O}"
            f"_{spec.dtype}_{spec.threads}t{device_suffix(spec.device)}")


def grids(config: dict) -> list[dict]:
    """The config's grids, then one per loss-curve task matching its training runs (impl, T, B, H, D, O, dtype)."""
    learning = config["learning"]
    curves = arguments("loss_curves", learning["loss_curves"])
    settings = [tuple(setting) for setting in curves["settings"]]
    derived = []
    for task, params in curves["tasks"].items():
        info = tasks.info(task, **params)
        derived.append({
            "name": PARETO_PREFIX + task, "impls": [learning["impl"]], "T": [info.T], "dtype": learning["dtype"],
            "bptt": ("bptt", None, None) in settings,
            "truncations": [[k1, k2] for method, k1, k2 in settings if method == "tbptt"],
            "B": curves["B"], "H": curves["H"], "D": info.D, "O": info.O,
            "device": ["cpu"],  # where the training runs ran
        })
    return list(config["benchmark"]["grids"]) + derived


def grid_cells(config: dict, grid: dict) -> Iterator[CellSpec]:
    """The cells of one grid (CellSpec checks each; its ValueError names the field)."""
    benchmark = config["benchmark"]
    common = dict(dtype=grid.get("dtype", benchmark["dtype"]), threads=benchmark["threads"],
                  repeats=benchmark["repeats"], min_repeats=benchmark["min_repeats"],
                  repeat_time_s=benchmark["repeat_time_s"], lr=benchmark["lr"], seed=benchmark["seed"],
                  time_limit_s=benchmark["time_limit_s"],
                  memory_budget_bytes=int(benchmark["memory_budget_gib"] * defaults.GIB))
    sizes = {name: grid.get(name, benchmark[name]) for name in ("B", "H", "D", "O")}
    truncations = [tuple(pair) for pair in grid.get("truncations", [])]
    truncations += list(itertools.product(grid.get("k1", []), grid.get("k2", [])))
    methods = ([("bptt", None, None)] if grid.get("bptt", True) else []) + [("tbptt", k1, k2) for k1, k2 in truncations]
    methods += [("checkpointed", None, c) for c in grid.get("segments", [])]  # c in the k2 slot
    devices = grid.get("device", benchmark["device"])
    for device, impl, cell, T, (method, k1, k2) in itertools.product(
        devices, grid.get("impls", benchmark["impls"]), grid.get("cells", ["rnn_tanh"]), grid["T"], methods
    ):
        segment = (k2 or default_segment(T)) if method == "checkpointed" else None
        k2 = None if method == "checkpointed" else k2
        yield CellSpec(impl=impl, method=method, T=T, k1=k1, k2=k2, segment=segment, cell=cell, device=device,
                       **sizes, **common)


def expand(config: dict) -> dict[str, CellSpec]:
    """All cells of all grids, keyed by cell_id (a cell in two grids is measured once)."""
    cells: dict[str, CellSpec] = {}
    for grid in grids(config):
        for spec in grid_cells(config, grid):
            cells.setdefault(cell_id(spec), spec)
    return cells


def memberships(config: dict) -> dict[str, str]:
    """cell_id -> the names of the grids it belongs to, comma-joined (the table's `grid` column)."""
    names: dict[str, list[str]] = {}
    for grid in grids(config):
        for spec in grid_cells(config, grid):
            names.setdefault(cell_id(spec), [])
            if grid["name"] not in names[cell_id(spec)]:
                names[cell_id(spec)].append(grid["name"])
    return {cell: ",".join(grid_names) for cell, grid_names in names.items()}


def blocks(config: dict) -> dict[str, list[str]]:
    """block id -> its cell ids, in grid order. A block is one timed job: the cells of one grid
    (a cell in two grids belongs to the first) for one implementation, thread count and
    device, measured one after another by one worker (`measure.cell.measure_cells`).
    Ids read like `scaling_numpy_1t` (`..._cuda` off the CPU)."""
    grid_names = memberships(config)
    found: dict[str, list[str]] = {}
    for cell, spec in expand(config).items():
        first_grid = grid_names[cell].split(",")[0]
        found.setdefault(f"{first_grid}_{spec.impl}_{spec.threads}t{device_suffix(spec.device)}", []).append(cell)
    return found


def device_suffix(device: str) -> str:
    """What ids and file names of a non-CPU cell end in ('_cuda'); nothing for the CPU."""
    return "" if device == "cpu" else f"_{device}"
