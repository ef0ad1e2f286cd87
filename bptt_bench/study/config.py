"""Loading and checking the study configuration, before any job runs.

The JSON schema (workflow/schemas/config.schema.yaml) checks types, ranges and key names
and fills defaults; `check_config` adds what a schema cannot know (the registered
implementations). Every error names the offending field, e.g. `benchmark.grids[0].T[1]`.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

import implementations
from implementations.contract import check_method

from .. import tasks
from ..experiments.learnable_lag import check_setting

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A bad configuration; the message names the field."""


def _field(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _with_defaults(validator_class):
    """A validator that also fills in `default` values of the schema, as snakemake.utils.validate does."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": fill_defaults})


def check_config(config: dict) -> dict:
    """Validate `config` in place (defaults filled in) and return it; ConfigError names the field."""
    schema = yaml.safe_load(SCHEMA.read_text())
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(f"config error at {_field(error.absolute_path)}: {error.message}")
    benchmark, learning = config["benchmark"], config["learning"]
    _check_impls("benchmark.impls", benchmark["impls"])
    for i, grid in enumerate(benchmark["grids"]):
        _check_impls(f"benchmark.grids[{i}].impls", grid.get("impls", []))
    names = [grid["name"] for grid in benchmark["grids"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"config error at benchmark.grids: grid names must be unique; got {names}")
    _check_impls("learning.impl", [learning["impl"]])
    _check_impls("learning.gradient_bias.impls", learning["gradient_bias"]["impls"])
    for block, check in (("learnable_lag", check_setting), ("loss_curves", check_method)):
        for i, setting in enumerate(learning[block]["settings"]):
            _checked(f"learning.{block}.settings[{i}]", check, *setting)
    lag = learning["learnable_lag"]
    for i, value in enumerate(lag["lags"]):
        _checked(f"learning.learnable_lag.lags[{i}]", tasks.info, "delayed_recall",
                 **{k: lag[k] for k in ("T", "V") if k in lag}, lag=value)
    for name, params in learning["loss_curves"]["tasks"].items():
        _checked(f"learning.loss_curves.tasks.{name}", tasks.info, name, **params)
    bias = learning["gradient_bias"]
    if "task" in bias:
        _checked("learning.gradient_bias.task_params", tasks.info, bias["task"], **bias.get("task_params", {}))
    return config


def _check_impls(where: str, names) -> None:
    unknown = [name for name in names if name not in implementations.NAMES]
    if unknown:
        raise ConfigError(f"config error at {where}: unknown implementation(s) {unknown}; known: {list(implementations.NAMES)}")


def _checked(where: str, check, *args, **kwargs):
    """check(*args, **kwargs), its ValueError or TypeError re-raised as a ConfigError at `where`."""
    try:
        return check(*args, **kwargs)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"config error at {where}: {error}") from None


def load_config(path) -> dict:
    return check_config(yaml.safe_load(Path(path).read_text()) or {})
