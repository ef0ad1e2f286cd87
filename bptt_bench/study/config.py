"""Loading and checking the study configuration, before any job runs.

The JSON schema (workflow/schemas/config.schema.yaml) checks types, ranges and key names
and fills defaults; `CHECKS` adds, one row per field, what a schema cannot know (the
registered implementations, the machine's CPUs, a task's own constraints, the cells a
grid expands to). Every error names the offending field, e.g. `benchmark.grids[0].T[1]`.
Adding a config field is one schema entry plus, where needed, one row of `CHECKS`.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import jsonschema
import yaml

import implementations
from implementations.contract import check_method

from .. import defaults, tasks
from ..experiments.learnable_lag import check_setting
from . import grid as grid_module
from .learning import arguments

SCHEMA = defaults.SCHEMA_PATH


class ConfigError(ValueError):
    """A bad configuration; the message names the field."""


def _field(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


# -- what the schema cannot say: (field pattern, check) -----------------------------------
# `*` matches every item of a list or key of a mapping. check(value, config, path) raises
# ValueError or TypeError with a message; the error is reported at the matched field.


def _known_impl(name, config, path):
    if name not in implementations.NAMES:
        raise ValueError(f"unknown implementation {name!r}; known: {list(implementations.NAMES)}")


def _at_most_cpus(threads, config, path):
    available = len(os.sched_getaffinity(0))
    if threads > available:
        raise ValueError(f"threads={threads} but this machine lets the study use {available} CPUs")


def _unique_grid_names(grids, config, path):
    names = [grid["name"] for grid in grid_module.grids(config)]
    if len(set(names)) != len(names):
        raise ValueError(f"grid names must be unique (loss_curves adds {grid_module.PARETO_PREFIX}<task>); got {names}")


def _training_setting(setting, config, path):
    check_method(*setting)


def _lag_setting(setting, config, path):
    check_setting(*setting)  # also the readout-only control


def _lag_fits(lag, config, path):
    block = arguments("learnable_lag", config["learning"]["learnable_lag"])
    tasks.info("delayed_recall", T=block["T"], V=block["V"], lag=lag)


def _task_params(params, config, path):
    tasks.info(path[-1], **params)


def _bias_task(bias, config, path):
    block = arguments("gradient_bias", bias)
    tasks.info(block["task"], **(block["task_params"] or {}))


def _decay_length(T, config, path):
    if T < 2:
        raise ValueError(f"must be >= 2 (its inputs are delayed recall at lag 1); got {T}")


def _grid_expands(grid, config, path):
    cells = list(grid_module.grid_cells(config, grid))
    if not cells:
        raise ValueError("expands to no cells: bptt is false and it has no truncations or k1/k2")


CHECKS = [
    ("benchmark.impls[*]", _known_impl),
    ("benchmark.grids[*].impls[*]", _known_impl),
    ("benchmark.threads", _at_most_cpus),
    ("learning.impl", _known_impl),
    ("learning.gradient_bias.impls[*]", _known_impl),
    ("learning.learnable_lag.settings[*]", _lag_setting),
    ("learning.loss_curves.settings[*]", _training_setting),
    ("learning.learnable_lag.lags[*]", _lag_fits),
    ("learning.loss_curves.tasks.*", _task_params),
    ("learning.gradient_bias", _bias_task),
    ("learning.gradient_decay.T", _decay_length),
    ("benchmark.grids", _unique_grid_names),  # after the learning rows: it derives the loss-curve grids
    ("benchmark.grids[*]", _grid_expands),
]


def _matches(node, pattern: list[str], path: tuple = ()):
    """(path, value) of every field of `node` that `pattern` (split on . and []) names."""
    if not pattern:
        yield path, node
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    else:
        items = [(head, node[head])] if isinstance(node, dict) and head in node else ()
    for key, child in items:
        yield from _matches(child, rest, path + (key,))


def _non_finite(node, path: tuple = ()):
    """Paths of every NaN or infinite number in the config (the schema's ranges let them through)."""
    if isinstance(node, float) and not math.isfinite(node):
        yield path
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from _non_finite(child, path + (key,))


# -- the schema -----------------------------------------------------------------------------


def _validator_class():
    """Draft 2020-12 that fills in `default`s (as snakemake.utils.validate does) and whose
    'integer' excludes integral floats: H: 8.0 would fail later, in a job."""
    base = jsonschema.Draft202012Validator
    strict = base.TYPE_CHECKER.redefine(
        "integer", lambda checker, value: isinstance(value, int) and not isinstance(value, bool))
    validate_properties = base.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": fill_defaults}, type_checker=strict)


def _numbers_from_strings(config: dict, validator) -> None:
    """`snakemake --config 'benchmark={repeats: 2}'` delivers 2 as the string '2' (Snakemake reads
    nested values with YAML's BaseLoader): where the schema wants a number, boolean or null and
    YAML reads the string as one, use that."""
    while True:
        changes = []
        for error in validator.iter_errors(config):
            if error.validator != "type" or not isinstance(error.instance, str) or not error.absolute_path:
                continue
            value = yaml.safe_load(error.instance)
            wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
            if not isinstance(value, str) and any(validator.is_type(value, kind) for kind in wanted):
                changes.append((list(error.absolute_path), value))
        if not changes:
            return
        for path, value in changes:
            parent = config
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value


def check_config(config: dict) -> dict:
    """Validate `config` in place (defaults filled in) and return it; ConfigError names the field."""
    validator = _validator_class()(defaults.schema())
    _numbers_from_strings(config, validator)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(f"config error at {_field(error.absolute_path)}: {error.message}")
    for path in _non_finite(config):
        raise ConfigError(f"config error at {_field(path)}: must be a finite number; got {_get(config, path)}")
    for pattern, check in CHECKS:
        for path, value in _matches(config, re.findall(r"[^.\[\]]+", pattern)):
            try:
                check(value, config, path)
            except (ValueError, TypeError) as error:
                raise ConfigError(f"config error at {_field(path)}: {error}") from None
    return config


def _get(config, path):
    for key in path:
        config = config[key]
    return config


def load_config(path) -> dict:
    return check_config(yaml.safe_load(Path(path).read_text()) or {})
