"""The paper's own experiments, by name: the function that makes the rows and the table's columns."""

from __future__ import annotations

import pandas as pd

from bptt_bench.experiments.derivative_free import COLUMNS as DERIVATIVE_FREE_COLUMNS
from bptt_bench.experiments.derivative_free import derivative_free
from bptt_bench.experiments.echo import echo
from bptt_bench.experiments.truncated_norms import COLUMNS as TRUNCATED_NORMS_COLUMNS
from bptt_bench.experiments.truncated_norms import truncated_norms
from bptt_bench.peers.ignite_tbptt import COLUMNS as PEER_COLUMNS
from bptt_bench.peers.ignite_tbptt import peer_check
from bptt_bench.tables import TRAINING_COLUMNS

EXPERIMENTS = {
    "echo": (echo, TRAINING_COLUMNS),
    "derivative_free": (derivative_free, DERIVATIVE_FREE_COLUMNS),
    "truncated_norms": (truncated_norms, TRUNCATED_NORMS_COLUMNS),
    "peer_check": (peer_check, PEER_COLUMNS),
}


def run(name: str, kwargs: dict) -> pd.DataFrame:
    """The table of experiment `name` called with `kwargs`, in its fixed columns."""
    function, columns = EXPERIMENTS[name]
    return pd.DataFrame(function(**kwargs), columns=columns)
