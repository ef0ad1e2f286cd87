"""PyTorch-Ignite's `create_supervised_tbptt_trainer` against this study's `train_tbptt(k, k)`.

Ignite splits the sequence into chunks of k steps (the short last chunk kept), detaches
the state between chunks and takes one optimizer step per chunk with every loss of the
chunk: "detach every k". Ours is TBPTT(k, k), whose last update reaches k steps back even
when the last segment is shorter. The two must agree to rounding when k divides T and
differ when it does not (docs/method.md, section 4). Needs `pip install -e ".[peers]"`.
"""

from __future__ import annotations

import numpy as np

import implementations
from bptt_bench.problems import random_problem
from implementations.contract import PARAM_NAMES

COLUMNS = ["impl", "T", "k", "k_divides_T", "max_relative_difference", "worst_parameter", "lr", "B", "H",
           "dtype", "ignite_version", "status", "reason"]


def available() -> str | None:
    """None if pytorch-ignite can be imported, else the reason it cannot."""
    try:
        import ignite  # noqa: F401
    except ImportError as error:
        return f"pytorch-ignite is not installed ({error}); install the extra: pip install -e '.[peers]'"
    return None


def train_with_ignite(params: dict, x, y, k: int, lr: float) -> dict[str, np.ndarray]:
    """Final parameters after ignite's TBPTT trainer runs SGD(lr) over one sequence x (T,B,D), y (T,B).

    The loss of a chunk is sum of cross-entropies / B, the study's L_j with every step unmasked.
    """
    import torch
    from ignite.contrib.engines import create_supervised_tbptt_trainer

    class Elman(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.ParameterDict({name: torch.nn.Parameter(torch.tensor(params[name]))
                                             for name in PARAM_NAMES})

        def forward(self, x_chunk, hidden=None):
            p = self.p
            h = torch.zeros(x_chunk.shape[1], p["W_hh"].shape[0], dtype=x_chunk.dtype) if hidden is None else hidden
            outputs = []
            for x_t in x_chunk:
                h = torch.tanh(x_t @ p["W_xh"] + h @ p["W_hh"] + p["b_h"])
                outputs.append(h @ p["W_hy"] + p["b_y"])
            return torch.stack(outputs), h

    model = Elman()
    B = x.shape[1]

    def loss_fn(logits, target):
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                 reduction="sum") / B

    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    trainer = create_supervised_tbptt_trainer(model, optimizer, loss_fn, tbtt_step=k, dim=0)
    trainer.run([(torch.tensor(x), torch.tensor(y))], max_epochs=1)
    return {name: value.detach().numpy() for name, value in model.p.items()}


def compare(T: int, k: int, impls=None, lr: float = 0.1, B: int = 4, D: int = 3, H: int = 8, O: int = 5,
            seed: int = 0) -> list[dict]:
    """Rows (COLUMNS): max over parameters of ||ours - ignite|| / ||ignite|| after one sequence, float64."""
    import ignite

    params, x, y, _ = random_problem(T=T, B=B, D=D, H=H, O=O, dtype="float64", seed=seed)
    mask = np.ones((T, B))
    theirs = train_with_ignite(params, x, y, k, lr)
    rows = []
    for name in impls or implementations.NAMES:
        _, ours = implementations.load(name).train_tbptt(params, x, y, mask, k1=k, k2=k, lr=lr)
        errors = {p: float(np.linalg.norm(ours[p] - theirs[p]) / max(np.linalg.norm(theirs[p]), 1e-300))
                  for p in PARAM_NAMES}
        worst = max(errors, key=errors.get)
        rows.append(dict(impl=name, T=T, k=k, k_divides_T=T % k == 0, max_relative_difference=errors[worst],
                         worst_parameter=worst, lr=lr, B=B, H=H, dtype="float64",
                         ignite_version=ignite.__version__, status="ok", reason=""))
    return rows


def peer_check(cases=((48, 8), (50, 8)), lr: float = 0.1) -> list[dict]:
    """compare() for every (T, k) of `cases`; one `skipped` row with the reason if ignite is absent."""
    reason = available()
    if reason is not None:
        return [dict.fromkeys(COLUMNS) | {"status": "skipped", "reason": reason}]
    return [row for T, k in cases for row in compare(T, k, lr=lr)]
