"""The study's defaults, in one place: the `default`s of workflow/schemas/config.schema.yaml.

The schema fills them into a checked config; `CellSpec` and the command line read them
from here, so a cell measured by `python -m bptt_bench measure` and one of the study
share every default.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
GIB = 2**30


@cache
def schema() -> dict:
    return yaml.load(SCHEMA_PATH.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def defaults(block: str) -> dict:
    """{field: default} of a top-level block of the schema, e.g. defaults("benchmark")["H"] == 256."""
    properties = schema()["properties"][block]["properties"]
    return {name: spec["default"] for name, spec in properties.items() if "default" in spec}


BENCHMARK = defaults("benchmark")
