"""A setting is how a run computes its gradient: 'BPTT', 'TBPTT(k1, k2)', or a later method.

Every table, figure and caption labels settings with `label` and orders them with
`sort_key`, so one setting has one name and one place in every legend of the study.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from implementations.contract import default_segment

METHOD_ORDER = ("bptt", "checkpointed", "tbptt")  # full gradient first, then cheaper exact, then truncated
CELL_ORDER = ("rnn_tanh", "lstm", "gru")  # recurrent cells; the Elman cell's settings carry no prefix


def _integer(value) -> int | None:
    """None for a missing k (None, NaN, ''), else the int."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def _gated(cell) -> str | None:
    """The cell's name when it is not the Elman cell (None, NaN, '' and 'rnn_tanh' are the Elman cell)."""
    return None if cell is None or cell != cell or cell in ("", "rnn_tanh") else str(cell)


def label(method: str, k1=None, k2=None, segment=None, cell=None) -> str:
    """'BPTT', 'TBPTT(k1, k2)', 'checkpointed BPTT(c=16)' or 'checkpointed BPTT'; another method keeps its
    name; prefixed 'LSTM ' or 'GRU ' for a gated cell."""
    if method == "bptt":
        text = "BPTT"
    elif method == "tbptt":
        text = f"TBPTT({_integer(k1)}, {_integer(k2)})"
    elif method == "checkpointed":
        c = _integer(segment)
        text = "checkpointed BPTT" + (f"(c={c})" if c is not None else "")
    else:
        text = str(method).replace("_", " ")
    gated = _gated(cell)
    return f"{gated.upper()} {text}" if gated else text


SQRT_SEGMENT = "checkpointed BPTT (c = ⌈√T⌉)"  # one setting across T: the spacing grows with T


def scaling_label(T, method: str, k1=None, k2=None, segment=None, cell=None) -> str:
    """`label`, except that checkpointed BPTT at c = ceil(sqrt(T)) is SQRT_SEGMENT at every T (one line
    across T in the scaling figures)."""
    if method == "checkpointed" and _integer(segment) == default_segment(int(T)):
        return label(method, cell=cell).replace("checkpointed BPTT", SQRT_SEGMENT)
    return label(method, k1, k2, segment, cell)


def sort_key(method: str, k1=None, k2=None, segment=None, cell=None) -> tuple:
    """By cell (Elman first), then BPTT, checkpointed by c, TBPTT by (k1, k2), other methods by name."""
    gated = _gated(cell)
    cell_rank = CELL_ORDER.index(gated) if gated in CELL_ORDER else 0 if gated is None else len(CELL_ORDER)
    rank = METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)
    numbers = [_integer(v) for v in (segment, k1, k2)]
    return cell_rank, gated or "", rank, method, *[-1 if n is None else n for n in numbers]


FIELDS = ("method", "k1", "k2", "segment", "cell")


def _fields(record) -> dict:
    """method, k1, k2, segment, cell of a row, a CellSpec-like object, a mapping or a (method, k1, k2) tuple."""
    if isinstance(record, Mapping):
        get = record.get
    elif isinstance(record, (tuple, list)):
        return dict.fromkeys(FIELDS) | dict(zip(("method", "k1", "k2"), record))
    else:

        def get(name, default=None):
            return getattr(record, name, default)

    return {name: get(name, None) for name in FIELDS}


def ordered(records: Iterable, names: Iterable[str] | None = None) -> list[str]:
    """Distinct setting labels of `records` (rows, specs, mappings or tuples), in the study's order.

    names: each record's label where it is not `label` of its fields (e.g. SQRT_SEGMENT).
    """
    records = list(records)
    names = [label(**_fields(r)) for r in records] if names is None else list(names)
    keyed = {}
    for name, record in zip(names, records):
        fields = _fields(record)
        if SQRT_SEGMENT in name:
            fields["segment"] = None  # one place for every T's c
        keyed.setdefault(name, sort_key(**fields))
    return sorted(keyed, key=keyed.get)


def labelled(table: pd.DataFrame) -> pd.DataFrame:
    """The table with a `setting` column (label of each row's method, k1, k2, and segment and cell if present)."""
    columns = [table[name] if name in table else [None] * len(table) for name in FIELDS]
    return table.assign(setting=[label(*fields) for fields in zip(*columns)])


def table_order(table: pd.DataFrame) -> list[str]:
    """Setting labels present in a table (its `setting` column where it has one), in the study's order."""
    records = table[[c for c in FIELDS if c in table]].to_dict("records")
    return ordered(records, table["setting"] if "setting" in table else None)


def study_settings(cell_specs: Iterable, learning_parts: Mapping) -> list[str]:
    """The settings a study draws as lines or points, in order: those of benchmark cells measured at two or
    more T (the heatmaps' k1 x k2 grid has no setting colours; checkpointed BPTT at c = ceil(sqrt(T)) is
    one setting, SQRT_SEGMENT) and those of the learning runs.

    cell_specs: objects or mappings with method, k1, k2, T; learning_parts: experiment -> part -> keyword
    arguments (bptt_bench.study.learning.parts), whose `settings` are (method, k1, k2) tuples or mappings.
    """
    lengths: dict[str, set] = {}
    records, names = [], []
    for spec in cell_specs:
        T = spec["T"] if isinstance(spec, Mapping) else spec.T
        name = scaling_label(T, **_fields(spec))
        lengths.setdefault(name, set()).add(T)
        records.append(spec)
        names.append(name)
    kept = [(r, n) for r, n in zip(records, names) if len(lengths[n]) >= 2]
    for experiment_parts in learning_parts.values():
        for kwargs in experiment_parts.values():
            # the readout-only control is drawn grey, as the floor, never in a setting's colour
            for setting in kwargs.get("settings", ()):
                if _fields(setting)["method"] != "readout_only":
                    kept.append((setting, label(**_fields(setting))))
    return ordered([r for r, _ in kept], [n for _, n in kept])
