"""The memory-time frontier: exact points at one T, gradient errors joined from the bias table."""

import math

import numpy as np
import pandas as pd

from bptt_bench.figures.frontier import frontier_points, plot_frontier
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


def test_points_at_the_T_with_most_spacings_and_errors_joined():
    bias = pd.DataFrame({"k1": [16, 16, 4], "k2": [32, 32, 4], "relative_error": [0.1, 0.3, 0.9]})
    T, points = frontier_points(table(), bias)
    assert T == 256
    assert len(points) == 5  # the timeout cell is left out
    errors = dict(zip(points["setting"], points["gradient_error"]))
    assert errors["BPTT"] == 0 and errors["checkpointed BPTT(c=16)"] == 0 and errors["checkpointed BPTT(c=64)"] == 0
    assert errors["TBPTT(16, 32)"] == 0.2 and np.isnan(errors["TBPTT(32, 8)"])


def test_frontier_figure_renders(tmp_path):
    paths = plot_frontier(table(), tmp_path / "frontier")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
