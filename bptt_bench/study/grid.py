"""Expanding the checked configuration into the cells of the benchmark grid."""

from __future__ import annotations

import itertools

from implementations.contract import default_segment

from ..measure.cell import CellSpec


def cell_id(spec: CellSpec) -> str:
    """A readable, unique file name for a cell: numpy_tbptt_T1024_k16-32_B32_H256_D32_O32_float32_1t
    (numpy_lstm_tbptt_... for a gated cell; the Elman cell's ids carry no cell name)."""
    truncation = f"_k{spec.k1}-{spec.k2}" if spec.method == "tbptt" else ""
    if spec.method == "checkpointed":
        truncation = f"_c{spec.segment or 'sqrt'}"
    cell = "" if spec.cell == "rnn_tanh" else f"_{spec.cell}"
    return (f"{spec.impl}{cell}_{spec.method}_T{spec.T}{truncation}_B{spec.B}_H{spec.H}_D{spec.D}_O{spec.O}"
            f"_{spec.dtype}_{spec.threads}t")


def expand(config: dict) -> dict[str, CellSpec]:
    """All cells of all grids, keyed by cell_id (a cell in two grids is measured once)."""
    benchmark = config["benchmark"]
    common = dict(dtype=benchmark["dtype"], threads=benchmark["threads"], repeats=benchmark["repeats"],
                  lr=benchmark["lr"], seed=benchmark["seed"], time_limit_s=benchmark["time_limit_s"],
                  memory_budget_bytes=int(benchmark["memory_budget_gib"] * 2**30))
    cells: dict[str, CellSpec] = {}
    for grid in benchmark["grids"]:
        sizes = {name: grid.get(name, benchmark[name]) for name in ("B", "H", "D", "O")}
        truncations = [tuple(pair) for pair in grid.get("truncations", [])]
        truncations += list(itertools.product(grid.get("k1", []), grid.get("k2", [])))
        methods = ([("bptt", None, None)] if grid["bptt"] else []) + [("tbptt", k1, k2) for k1, k2 in truncations]
        methods += [("checkpointed", None, c) for c in grid.get("segments", [])]  # c in the k2 slot
        for impl, cell, T, (method, k1, k2) in itertools.product(
            grid.get("impls", benchmark["impls"]), grid.get("cells", ["rnn_tanh"]), grid["T"], methods
        ):
            segment = (k2 or default_segment(T)) if method == "checkpointed" else None
            k2 = None if method == "checkpointed" else k2
            spec = CellSpec(impl=impl, method=method, T=T, k1=k1, k2=k2, segment=segment, cell=cell,
                            **sizes, **common)
            cells.setdefault(cell_id(spec), spec)
    return cells
