"""A one-minute tour: the three implementations on one problem, agreeing to rounding."""

from __future__ import annotations

import time

import numpy as np

import implementations

from .problems import random_problem


def demo(T: int = 256, B: int = 16, H: int = 64, k1: int = 16, k2: int = 32) -> None:
    """Print each framework's loss, gradient agreement with NumPy (float64) and timings (float32)."""
    print(f"Elman RNN, T={T}, B={B}, D=8, H={H}, O=8; TBPTT({k1}, {k2}) vs BPTT\n")
    impls = {name: implementations.load(name) for name in implementations.NAMES}
    problem64 = random_problem(T, B, 8, H, 8, "float64", masked_fraction=0.2, seed=1)
    reference = {m: impls["numpy"].loss_and_grad(*problem64, **kw) for m, kw in _methods(k1, k2).items()}
    print(f"{'impl':<6} {'method':<14} {'loss (float64)':>16} {'max rel. grad error vs numpy':>30}")
    for name, impl in impls.items():
        for method, kwargs in _methods(k1, k2).items():
            loss, grads = impl.loss_and_grad(*problem64, **kwargs)
            ref = reference[method][1]
            error = max(np.linalg.norm(grads[k] - ref[k]) / np.linalg.norm(ref[k]) for k in ref)
            print(f"{name:<6} {method:<14} {loss:>16.10f} {error:>30.1e}")

    problem32 = random_problem(T, B, 8, H, 8, "float32", seed=1)
    print(f"\n{'impl':<6} {'BPTT loss+grad (ms)':>20} {f'TBPTT({k1},{k2}) training (ms)':>30}   (float32, median of 5 after warm-up)")
    for name, impl in impls.items():
        bptt = _median_ms(lambda: impl.loss_and_grad(*problem32))
        tbptt = _median_ms(lambda: impl.train_tbptt(*problem32, k1=k1, k2=k2, lr=0.01))
        print(f"{name:<6} {bptt:>20.1f} {tbptt:>30.1f}")


def _methods(k1, k2):
    return {"bptt": dict(method="bptt"), f"tbptt({k1},{k2})": dict(method="tbptt", k1=k1, k2=k2)}


def _median_ms(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))
