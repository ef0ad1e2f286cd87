"""The memory-time frontier: exact points at one T, gradient errors joined by setting, and the errors
themselves computed (checkpointing's is rounding, TBPTT's is not)."""

import math

import numpy as np
import pandas as pd

from bptt_bench.analysis.benchmarks import frontier_T
from bptt_bench.experiments.gradient_bias import errors_against_bptt
from bptt_bench.figures.frontier import frontier_points, plot_frontier, summarize_frontier
from bptt_bench.tables import BENCHMARK_COLUMNS


def row(method, T, k1=None, k2=None, segment=None, time=1.0, rss=100.0, status="ok"):
    values = dict.fromkeys(BENCHMARK_COLUMNS, math.nan)
    values.update(impl="numpy", method=method, T=T, k1=k1 if k1 else math.nan, k2=k2 if k2 else math.nan,
                  segment=segment if segment else math.nan, B=2, H=4, D=1, O=2, dtype="float32", threads=1,
                  status=status, time_median_s=time, peak_rss_bytes=rss)
    return values


def table():
    return pd.DataFrame([
        row("bptt", 64), row("bptt", 256, time=4.0, rss=400.0),
        row("checkpointed", 256, segment=16, time=5.0, rss=40.0), row("checkpointed", 256, segment=64, time=5.5, rss=70.0),
        row("checkpointed", 64, segment=8), row("tbptt", 256, 16, 32, time=3.0, rss=30.0),
        row("tbptt", 256, 32, 8, time=2.0, rss=10.0), row("checkpointed", 256, segment=4, status="timeout"),
    ])


def errors():
    return pd.DataFrame({"method": ["bptt", "checkpointed", "checkpointed", "tbptt"], "k1": [None, None, None, 16],
                         "k2": [None, None, None, 32], "segment": [None, 16, 64, None],
                         "relative_error": [0.0, 1e-16, 2e-16, 0.2]})


def test_points_at_the_T_with_most_spacings_and_errors_joined():
    T, points = frontier_points(table(), errors())
    assert T == 256
    assert len(points) == 5  # the timeout cell is left out
    found = dict(zip(points["setting"], points["gradient_error"]))
    assert found["BPTT"] == 0 and found["checkpointed BPTT(c=16)"] == 1e-16 and found["checkpointed BPTT(c=64)"] == 2e-16
    assert found["TBPTT(16, 32)"] == 0.2 and np.isnan(found["TBPTT(32, 8)"])  # not computed: not assumed


def test_frontier_T_is_the_T_with_most_spacings_longest_on_ties():
    specs = [dict(method="checkpointed", T=T, segment=c) for T, c in [(64, 8), (256, 16), (256, 64), (1024, 4), (1024, 8)]]
    assert frontier_T(specs + [dict(method="bptt", T=4096, segment=None)]) == 1024
    assert frontier_T([dict(method="bptt", T=64, segment=None)]) is None


def test_errors_against_bptt_are_rounding_for_checkpointing_and_not_for_truncation():
    settings = [dict(method="checkpointed", segment=c) for c in (1, 5, 40)]
    settings += [dict(method="tbptt", k1=4, k2=4), dict(method="tbptt", k1=4, k2=40)]
    rows = errors_against_bptt(settings, T=40, B=3, D=2, H=5, O=3)
    found = [r["relative_error"] for r in rows]
    assert max(found[:3]) < 1e-13 and min(r["cosine"] for r in rows[:3]) > 1 - 1e-13
    assert found[3] > 1e-3  # truncated to 4 of 40 steps: a real bias
    assert found[4] < 1e-13  # k2 >= T: the contract's identity TBPTT(k1, T) == BPTT
    gated = errors_against_bptt([dict(method="checkpointed", segment=7, cell="lstm"),
                                 dict(method="tbptt", k1=4, k2=4, cell="gru")], T=40, B=3, D=2, H=5, O=3)
    assert gated[0]["cell"] == "lstm" and gated[0]["relative_error"] < 1e-13 and gated[1]["relative_error"] > 1e-3


def test_frontier_figure_renders_and_summary_lists_every_point(tmp_path):
    paths = plot_frontier(table(), tmp_path / "frontier", errors())
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    entry = summarize_frontier(table(), errors())["frontier"]
    assert len(entry["table"]["rows"]) == 5 and entry["table"]["rows"][0][1] == "BPTT"
    assert [r[-1] for r in entry["table"]["rows"]] == ["0", "1e-16", "2e-16", "0.2", "n/a"]
