import os

from bptt_bench.measure.environment import THREAD_VARIABLES, extend_xla_flags

# One core per test process: the suite runs one process per core (pytest -n auto). Frameworks' default
# pools take every core and, beside the other workers, wait on each other: PyTorch's streaming-memory
# test took 63 s instead of 7 s with the other core busy. Set before NumPy, PyTorch or JAX is imported;
# a value the user set wins. Measuring workers set their own threads (bptt_bench.measure.environment).
for _variable in THREAD_VARIABLES:
    os.environ.setdefault(_variable, "1")
os.environ["XLA_FLAGS"] = extend_xla_flags(os.environ.get("XLA_FLAGS", ""), threads=1)

import numpy as np
import pytest

import implementations
from bptt_bench.problems import random_problem


@pytest.fixture(scope="session")
def impls():
    """Every registered implementation, loaded once."""
    return {name: implementations.load(name) for name in implementations.NAMES}


def relative_error(a, b) -> float:
    """||a - b|| / ||b||, with a floor on ||b|| so that zero gradients compare absolutely."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def max_gradient_error(grads_a, grads_b) -> tuple[float, str]:
    """Largest per-parameter relative error and the parameter it belongs to."""
    return max((relative_error(grads_a[k], grads_b[k]), k) for k in grads_b)


def small_problem(loss="ce", dtype="float64", T=13, seed=0, **sizes):
    """A problem small enough for naive references: T=13 is a multiple of none of the k1 used."""
    dims = dict(B=3, D=4, H=6, O=5) | sizes
    return random_problem(T=T, dtype=dtype, loss=loss, masked_fraction=0.3, radius=1.2, seed=seed, **dims)
