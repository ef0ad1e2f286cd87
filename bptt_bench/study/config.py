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
    benchmark = config["benchmark"]
    for where, names in [("benchmark.impls", benchmark["impls"])] + [
        (f"benchmark.grids[{i}].impls", grid["impls"]) for i, grid in enumerate(benchmark["grids"]) if "impls" in grid
    ]:
        unknown = [name for name in names if name not in implementations.NAMES]
        if unknown:
            raise ConfigError(f"config error at {where}: unknown implementation(s) {unknown}; known: {list(implementations.NAMES)}")
    names = [grid["name"] for grid in benchmark["grids"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"config error at benchmark.grids: grid names must be unique; got {names}")
    return config


def load_config(path) -> dict:
    return check_config(yaml.safe_load(Path(path).read_text()) or {})
