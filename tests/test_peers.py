"""Peer cross-check: PyTorch-Ignite's TBPTT trainer against train_tbptt(k, k) of every implementation.

Needs the optional extra: pip install -e ".[peers]" (package pytorch-ignite).
"""

import pytest

from bptt_bench.peers import ignite_tbptt

pytestmark = pytest.mark.skipif(ignite_tbptt.available() is not None, reason=str(ignite_tbptt.available()))


def test_equal_when_k_divides_T():
    rows = ignite_tbptt.compare(T=48, k=8)
    print({row["impl"]: row["max_relative_difference"] for row in rows})
    assert len(rows) >= 3
    for row in rows:
        assert row["max_relative_difference"] <= 1e-9, row


def test_different_when_k_does_not_divide_T():
    """Our last update reaches k steps back; ignite's only the short last chunk."""
    rows = ignite_tbptt.compare(T=50, k=8)
    print({row["impl"]: row["max_relative_difference"] for row in rows})
    for row in rows:
        assert row["max_relative_difference"] > 1e-4, row

