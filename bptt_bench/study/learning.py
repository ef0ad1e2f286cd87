"""The learning experiments of the configuration, cut into independent jobs ("parts").

Each part is one call of an experiment function with keyword arguments; the workflow
runs every part as its own job and concatenates the rows into the three tables.
"""

from __future__ import annotations

import inspect

from ..experiments.gradient_bias import gradient_bias
from ..experiments.gradient_decay import gradient_decay
from ..experiments.learnable_lag import learnable_lag
from ..experiments.loss_curves import loss_curves

EXPERIMENTS = {
    "learnable_lag": learnable_lag,
    "loss_curves": loss_curves,
    "gradient_bias": gradient_bias,
    "gradient_decay": gradient_decay,
}
TABLES = {  # table -> the experiments whose rows it holds
    "learnable_lag": ("learnable_lag",),
    "training": ("loss_curves",),
    "gradient_bias": ("gradient_bias",),
    "gradient_decay": ("gradient_decay",),
}


def arguments(experiment: str, block: dict) -> dict:
    """The keyword arguments a config block gives its experiment function, with the function's defaults."""
    signature = inspect.signature(EXPERIMENTS[experiment])
    return {name: parameter.default for name, parameter in signature.parameters.items()
            if parameter.default is not inspect.Parameter.empty} | block


def _settings(settings):
    return [tuple(setting) for setting in settings]


def _per_cell(block: dict) -> list[tuple[str, dict]]:
    """(part-name prefix, the block's kwargs for one cell) per cell in block['cells']
    (default: the Elman cell alone, whose parts keep their names without a prefix).
    forget_bias goes to the LSTM only; block['per_cell'][cell] replaces keys for that cell."""
    kwargs = {k: v for k, v in block.items() if k not in ("cells", "forget_bias", "per_cell")}
    overrides = block.get("per_cell") or {}
    return [
        ("" if cell == "rnn_tanh" else f"{cell}_",
         kwargs | {"cell": cell} | ({"forget_bias": block["forget_bias"]} if cell == "lstm" and "forget_bias" in block else {})
         | overrides.get(cell, {}))
        for cell in block.get("cells", ["rnn_tanh"])
    ]


def _setting_name(method, k1, k2) -> str:
    """A part name for a setting: 'bptt', 'tbptt_4_8', 'readout_only_4'."""
    return "_".join([method] + [str(k) for k in (k1, k2) if k is not None])


def parts(config: dict) -> dict[str, dict[str, dict]]:
    """experiment -> part name -> keyword arguments of the experiment function."""
    learning = config["learning"]
    shared = {"impl": learning["impl"], "dtype": learning["dtype"], "clip": learning["clip"]}
    lag = dict(learning["learnable_lag"])
    curves = dict(learning["loss_curves"])
    bias = dict(learning["gradient_bias"])
    decay = dict(learning["gradient_decay"])
    lag["settings"] = _settings(lag["settings"])
    curves["settings"] = _settings(curves["settings"])
    bias["truncations"] = [tuple(pair) for pair in bias["truncations"]]
    return {
        # one job per (cell, setting): all its regimes, lags, seeds and learning rates train together
        # (batched JAX); lr choice needs every seed of a setting in one job
        "learnable_lag": {
            f"{prefix}{_setting_name(*setting)}": {"dtype": learning["dtype"], "clip": learning["clip"]}
            | kwargs | {"settings": [setting]}
            for prefix, kwargs in _per_cell(lag) for setting in lag["settings"]
        },
        "loss_curves": {
            f"{task}_seed{seed}": shared | {k: v for k, v in curves.items() if k != "tasks"}
            | {"task": task, "task_params": task_params, "seeds": [seed]}
            for task, task_params in curves["tasks"].items() for seed in curves["seeds"]
        },
        "gradient_bias": {
            f"{prefix}{impl}": {k: v for k, v in kwargs.items() if k != "impls"} | {"impl": impl}
            for prefix, kwargs in _per_cell(bias) for impl in bias["impls"]
        },
        "gradient_decay": {"all": decay},
    }


def run_part(experiment: str, kwargs: dict) -> list[dict]:
    return EXPERIMENTS[experiment](**kwargs)
