"""Every claim's verdict function on hand-made tables: one where the claim holds, one where it fails."""

import numpy as np
import pandas as pd
import pytest

from bptt_bench import claims
from bptt_bench.tasks import echo_levels

SIZES = dict(B=4, H=8, D=2, O=2, dtype="float32", threads=1)


def bench(*cells):
    """Benchmark rows from (impl, method, T, k1, k2, time_s, memory_bytes)."""
    return pd.DataFrame([
        dict(impl=impl, method=method, T=T, k1=k1, k2=k2, status="ok", reason=None, time_median_s=time_s,
             peak_rss_bytes=memory, **SIZES)
        for impl, method, T, k1, k2, time_s, memory in cells
    ])


def training(task, *runs, lag=None, T=32, baseline=1.0):
    """Final training rows from (method, k1, k2, lag, accuracy, loss)."""
    return pd.DataFrame([
        dict(impl="numpy", task=task, method=method, k1=k1, k2=k2, lag=run_lag, seed=0, sequences_seen=100,
             accuracy=accuracy, loss=loss, T=T, status="ok", baseline_loss=baseline)
        for method, k1, k2, run_lag, accuracy, loss in runs
    ])


def lag_runs(*runs, regime="gradient", seeds=3):
    """learnable_lag rows (one final row per seed) from (method, k1, k2, lag, accuracy[, lr_chosen]); chance 0.25."""
    return pd.DataFrame([
        dict(regime=regime, method=method, k1=k1, k2=k2, lag=lag, seed=seed, lr=0.02 if chosen else 0.5,
             lr_chosen=chosen, sequences_seen=100, test_accuracy=accuracy, status="ok", chance_accuracy=0.25, T=32)
        for method, k1, k2, lag, accuracy, *rest in runs for chosen in [rest[0] if rest else True]
        for seed in range(seeds)
    ])


def decay(factors, K=32):
    """Gradient-decay rows whose norm is factor**k per radius."""
    return pd.DataFrame([dict(radius=r, seed=0, k=k, grad_norm=f ** k) for r, f in factors.items() for k in range(K)])


def echo(losses):
    return pd.DataFrame([dict(k1=k, k2=k, seed=s, sequences_seen=10, loss=loss + 0.001 * s, status="ok")
                         for k, loss in losses.items() for s in range(3)])


def check(claim_id, tables):
    claim = next(c for c in claims.CLAIMS if c.claim_id == claim_id)
    return claims.verdict(claim, tables)


CASES = {  # claim -> (tables where it holds, tables where it fails)
    "tbptt_cost": (
        {"benchmarks": bench(("numpy", "bptt", 64, None, None, 1.0, 100), ("numpy", "tbptt", 64, 8, 8, 0.5, 10))},
        {"benchmarks": bench(("numpy", "bptt", 64, None, None, 1.0, 100), ("numpy", "tbptt", 64, 8, 8, 2.0, 10))},
    ),
    "truncation_bias": (
        {"gradient_bias": pd.DataFrame(dict(k1=[4], k2=[4], T=[32], relative_error=[0.3]))},
        {"gradient_bias": pd.DataFrame(dict(k1=[4], k2=[4], T=[32], relative_error=[1e-12]))},
    ),
    "long_dependencies": (  # a run at an lr not chosen, and another regime, must not count
        {"learnable_lag": pd.concat([
            lag_runs(("tbptt", 4, 4, 8, 0.3), ("tbptt", 4, 4, 8, 0.95, False), ("bptt", None, None, 8, 0.95),
                     ("readout_only", 4, None, 8, 0.3)),
            lag_runs(("tbptt", 4, 4, 8, 0.95), regime="online_equal_data")])},
        {"learnable_lag": lag_runs(("tbptt", 4, 4, 8, 0.95), ("bptt", None, None, 8, 0.95),
                                   ("readout_only", 4, None, 8, 0.3))},
    ),
    "vanishing_exploding": (
        {"gradient_decay": decay({0.5: 0.5, 3.0: 1.5})},
        {"gradient_decay": decay({1.0: 1.0})},
    ),
    "truncation_tames_exploding": (
        {"truncated_norms": pd.DataFrame(dict(radius=[1.0, 3.0, 3.0], method=["bptt", "bptt", "tbptt"],
                                              k2=[None, None, 4], grad_norm=[10.0, 1e6, 50.0]))},
        {"truncated_norms": pd.DataFrame(dict(radius=[1.0, 3.0, 3.0], method=["bptt", "bptt", "tbptt"],
                                              k2=[None, None, 4], grad_norm=[10.0, 1e6, 1e6]))},
    ),
    "bptt_vs_derivative_free": (
        {"derivative_free": pd.DataFrame(dict(optimizer=["bptt_sgd", "bptt_sgd", "powell", "powell"], seed=0,
                                              wall_s=[0.0, 0.1, 0.0, 3.0], loss=[0.7, 0.5, 0.7, 0.6], budget_s=3.0))},
        {"derivative_free": pd.DataFrame(dict(optimizer=["bptt_sgd", "bptt_sgd", "powell", "powell"], seed=0,
                                              wall_s=[0.0, 3.0, 0.0, 3.0], loss=[0.7, 0.5, 0.7, 0.4], budget_s=3.0))},
    ),
    "williams_peng": (
        {"learnable_lag": lag_runs(*[(m, k1, k2, L, 0.95) for L in (2, 4, 6)
                                     for m, k1, k2 in (("tbptt", 4, 8), ("bptt", None, None), ("readout_only", 4, None))]),
         "benchmarks": bench(("numpy", "bptt", 64, None, None, 1.0, 100), ("numpy", "tbptt", 64, 16, 32, 0.5, 10))},
        {"learnable_lag": lag_runs(*[(m, k1, k2, L, acc) for L in (2, 4, 6)
                                     for m, k1, k2, acc in (("tbptt", 4, 8, 0.4), ("bptt", None, None, 0.95))]),
         "benchmarks": bench(("numpy", "bptt", 64, None, None, 1.0, 100), ("numpy", "tbptt", 64, 16, 32, 2.0, 10))},
    ),
    "aicher_copy": (
        {"training": training("copy_memory", ("tbptt", 5, 5, 15, 0.5, 0.8), ("bptt", None, None, 15, 0.99, 0.1),
                              T=25, baseline=0.8)},
        {"training": training("copy_memory", ("tbptt", 5, 5, 15, 0.99, 0.1), ("bptt", None, None, 15, 0.99, 0.1),
                              T=25, baseline=0.8)},
    ),
    "chen_checkpointing": (
        {"benchmarks": bench(("numpy", "bptt", 4096, None, None, 1.0, 1000), ("numpy", "checkpointed", 4096, None, None, 1.3, 10))},
        {"benchmarks": bench(("numpy", "bptt", 4096, None, None, 1.0, 1000), ("numpy", "checkpointed", 4096, None, None, 3.0, 900))},
    ),
    "gruslys_checkpointing": (
        {"benchmarks": bench(("numpy", "bptt", 1024, None, None, 1.0, 1000), ("numpy", "checkpointed", 1024, None, None, 1.3, 50))},
        {"benchmarks": bench(("numpy", "bptt", 1024, None, None, 1.0, 1000), ("numpy", "checkpointed", 1024, None, None, 2.0, 900))},
    ),
    "pascanu_radius": (
        {"gradient_decay": decay({0.5: 0.5, 3.0: 1.5})},
        {"gradient_decay": decay({0.5: 1.2, 3.0: 1.5})},
    ),
    "geometric_decay": (
        {"gradient_decay": decay({0.5: 0.5})},
        {"gradient_decay": pd.DataFrame(dict(radius=0.5, seed=0, k=np.arange(32),
                                             grad_norm=np.r_[1.0, np.full(31, 1e-3)] * (1 - 1e-3 * np.arange(32))))},
    ),
    "detach_equals_tbptt": (
        {"peer_check": pd.DataFrame(dict(impl="numpy", T=[48, 50], k=8, k_divides_T=[True, False],
                                         max_relative_difference=[4e-16, 1e-2], status="ok"))},
        {"peer_check": pd.DataFrame(dict(impl="numpy", T=[48, 50], k=8, k_divides_T=[True, False],
                                         max_relative_difference=[1e-3, 1e-16], status="ok"))},
    ),
    "echo_truncation": (
        {"echo": echo({3: 0.662, 4: 0.52, 9: 0.455})},
        {"echo": echo({2: 0.46, 4: 0.52, 9: 0.455})},
    ),
    "echo_levels": (
        {"echo": echo({3: 0.662, 4: 0.52, 9: 0.455})},
        {"echo": echo({3: 0.3, 4: 0.3, 9: 0.9})},
    ),
}


def test_every_claim_has_cases_and_there_are_at_least_twelve():
    assert set(CASES) == {c.claim_id for c in claims.CLAIMS}
    assert len(claims.CLAIMS) >= 12


@pytest.mark.parametrize("claim_id", sorted(CASES))
def test_holds(claim_id):
    result = check(claim_id, CASES[claim_id][0])
    assert result.verdict == "holds", result.evidence


@pytest.mark.parametrize("claim_id", sorted(CASES))
def test_fails(claim_id):
    result = check(claim_id, CASES[claim_id][1])
    assert result.verdict == "fails", result.evidence


def test_partly():
    both = bench(("numpy", "bptt", 64, None, None, 1.0, 100), ("numpy", "tbptt", 64, 8, 8, 0.5, 10),
                 ("numpy", "tbptt", 64, 16, 32, 2.0, 10))
    assert check("tbptt_cost", {"benchmarks": both}).verdict == "partly"


def test_checkpointing_claims_judge_the_spacing_nearest_sqrt_T():
    """A spacing grid's c = 1024 at T = 4096 keeps a quarter of the states by design: Chen's sublinear-memory
    claim is judged on c = 64, and the evidence names the spacing."""
    rows = bench(("numpy", "bptt", 4096, None, None, 1.0, 1000), ("numpy", "checkpointed", 4096, None, None, 1.2, 40),
                 ("numpy", "checkpointed", 4096, None, None, 1.1, 300))
    result = check("chen_checkpointing", {"benchmarks": rows.assign(segment=[np.nan, 64.0, 1024.0])})
    assert result.verdict == "holds" and "numpy c=64: time 1.20x" in result.evidence and "1024" not in result.evidence


def test_absent_table_or_column_is_not_tested_with_the_reason():
    result = check("chen_checkpointing", {})
    assert result == ("not tested", "table benchmarks was not produced in this run")
    result = check("truncation_bias", {"gradient_bias": pd.DataFrame(dict(k1=[4], k2=[4], T=[32]))})
    assert result.verdict == "not tested" and "relative_error" in result.evidence
    no_checkpoints = bench(("numpy", "bptt", 1024, None, None, 1.0, 1000))
    assert check("gruslys_checkpointing", {"benchmarks": no_checkpoints}).verdict == "not tested"
    skipped = pd.DataFrame(dict(impl=[None], status=["skipped"], reason=["pytorch-ignite is not installed"]))
    result = check("detach_equals_tbptt", {"peer_check": skipped})
    assert result.verdict == "not tested" and "ignite is not installed" in result.evidence


def test_claims_table_has_its_columns_and_valid_verdicts():
    table = claims.claims_table({})
    assert list(table.columns) == claims.CLAIMS_COLUMNS
    assert set(table["verdict"]) == {"not tested"} and table["claim_id"].is_unique


def test_derivative_free_is_partly_when_faster_but_not_ten_times():
    runs = pd.DataFrame(dict(optimizer=["bptt_sgd", "bptt_sgd", "powell", "powell"], seed=0,
                             wall_s=[0.0, 1.0, 0.0, 3.0], loss=[0.7, 0.5, 0.7, 0.5], budget_s=3.0))
    result = check("bptt_vs_derivative_free", {"derivative_free": runs})
    assert result.verdict == "partly" and "3x sooner" in result.evidence


def test_skipped_cells_are_left_out_of_ratios():
    cells = bench(("numpy", "bptt", 64, None, None, 1.0, 100), ("numpy", "tbptt", 64, 8, 8, 0.5, 10),
                  ("numpy", "bptt", 256, None, None, np.nan, np.nan))
    cells.loc[2, "status"] = "skipped"
    result = check("tbptt_cost", {"benchmarks": cells})
    assert result.verdict == "holds" and "T = 64" in result.evidence


def test_echo_midpoints_come_from_the_levels():
    levels = echo_levels()
    just_above = (levels["none"] + levels["lag3"]) / 2 + 1e-3
    assert check("echo_truncation", {"echo": echo({3: just_above, 4: 0.52})}).verdict == "holds"
    assert check("echo_truncation", {"echo": echo({3: just_above - 0.01, 4: 0.52})}).verdict == "fails"


def test_long_dependencies_discounts_what_the_readout_only_control_learns_and_needs_the_gradient_regime():
    floor = lag_runs(("tbptt", 4, 4, 8, 0.95), ("bptt", None, None, 8, 0.95), ("readout_only", 4, None, 8, 0.95))
    result = check("long_dependencies", {"learnable_lag": floor})
    assert result.verdict == "partly" and "control learns too" in result.evidence
    online = lag_runs(("tbptt", 4, 4, 8, 0.95), ("bptt", None, None, 8, 0.95), regime="online_equal_data")
    for claim_id in ("long_dependencies", "williams_peng"):
        result = check(claim_id, {"learnable_lag": online})
        assert result.verdict == "not tested" and "gradient" in result.evidence


def test_echo_verdicts_are_per_hidden_size_and_name_it():
    small = echo({3: 0.662, 5: 0.52, 9: 0.52}).assign(H=4)  # plateaus: lag 8 not learned at all
    large = echo({3: 0.662, 5: 0.46, 9: 0.455}).assign(H=8)  # lag 8 learned though k = 5 has no path to it
    result = check("echo_truncation", {"echo": pd.concat([small, large], ignore_index=True)})
    assert result.verdict == "fails" and "H = 8, k = 5 (lag 8)" in result.evidence
    assert "H = 4, k = 5" not in result.evidence.split("k <= lag:")[1]
    assert check("echo_truncation", {"echo": small}).verdict == "holds"
    levels = check("echo_levels", {"echo": pd.concat([small, large], ignore_index=True)})
    assert "H = 4, k = 9: 0.5210 vs 0.4545 (both) outside" in levels.evidence
