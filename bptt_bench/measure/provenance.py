"""Where a number came from: versions, CPU model and node (host name), commit and time, for every table row."""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import implementations

from .process import utc_now

REPOSITORY = Path(__file__).resolve().parents[2]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    """'model name' from /proc/cpuinfo, with family/model numbers where the name is generic."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or "unknown"
    name = fields.get("model name", platform.processor() or "unknown")
    return f"{name} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


@functools.cache
def commit() -> str:
    """HEAD of the repository, suffixed '-dirty' when tracked files have uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPOSITORY, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPOSITORY,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def provenance(blas: str = "", environment: str = "", utc_time: str | None = None) -> dict[str, str]:
    """The PROVENANCE_COLUMNS of a row; `blas` is the implementation's own description,
    `environment` the thread and kernel variables in force in the measuring process,
    `utc_time` when the measurement ended (default: now)."""
    return {
        "python_version": platform.python_version(),
        **{f"{package}_version": _version(package) for package in implementations.PACKAGES},
        "blas": blas,
        "environment": environment,
        "cpu_model": cpu_model(),
        "node": platform.node(),
        "commit": commit(),
        "utc_time": utc_time or utc_now(),
    }
