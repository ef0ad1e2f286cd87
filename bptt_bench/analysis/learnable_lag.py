"""Reading the learnable-lag table: small pure functions over rows or tables, tested on hand-made ones.

- `learned`: the criterion for "a lag is learned" (mean accuracy and a bootstrap interval);
- `mark_chosen_lr` / `choose_lr`: each (regime, setting, lag)'s learning rate, chosen on validation;
- `lag_summary`, `largest_learned_lag`: per (regime, setting, lag) test accuracy at the chosen lr;
- `reach`: the longest lag a setting's gradient connects to its target;
- `cell_column`, `of_cell`: the cell of each row, one cell's rows (a table without a `cell` column is the Elman cell's).

A diverged run counts as accuracy 0 everywhere here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

LEARNED_MEAN = 0.9  # mean held-out accuracy over seeds a learned lag reaches
CONFIDENCE = 0.95  # two-sided bootstrap interval of the mean; its lower end must exceed chance
N_BOOTSTRAP = 2000
SETTING = ["method", "k1", "k2"]
ELMAN = "rnn_tanh"  # the cell of tables written before the `cell` column
CHOICE = ["cell", "regime", *SETTING, "lag"]  # the learning rate is chosen per these
RUN = [*CHOICE, "seed", "lr"]


def bootstrap_interval(values, confidence: float = CONFIDENCE, n: int = N_BOOTSTRAP, seed: int = 0):
    """(low, high): percentile bootstrap interval of the mean of values (NaN counts 0), fixed resampling seed."""
    values = np.nan_to_num(np.asarray(values, float), nan=0.0)
    if values.size == 0:
        raise ValueError("bootstrap_interval needs at least one value")
    means = np.random.default_rng(seed).choice(values, (n, values.size)).mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def learned(accuracies, chance: float, threshold: float = LEARNED_MEAN, confidence: float = CONFIDENCE) -> bool:
    """A lag is learned when the mean accuracy over seeds is >= threshold and the lower end of
    the bootstrap interval of that mean is above chance (NaN, a diverged run, counts 0)."""
    values = np.nan_to_num(np.asarray(accuracies, float), nan=0.0)
    return bool(values.mean() >= threshold and bootstrap_interval(values, confidence)[0] > chance)


def reach(method: str, k1, k2, T: int) -> int:
    """The longest lag whose input the gradient connects to its target: k2 - 1 for TBPTT (a target
    gets at most k2 steps of backpropagation), T - 1 for BPTT, 0 for readout_only (none)."""
    if method == "readout_only":
        return 0
    if method == "bptt":
        return T - 1
    return min(int(k2), T) - 1


def _key(frame: pd.DataFrame) -> pd.DataFrame:
    """k1 and k2 as floats (NaN for none), so that groups from CSV and from rows compare equal; `cell`
    (ELMAN where the table has none)."""
    return frame.assign(k1=frame["k1"].astype(float), k2=frame["k2"].astype(float), cell=cell_column(frame))


def cell_column(frame: pd.DataFrame):
    """The `cell` column, ELMAN where absent or empty."""
    return frame["cell"].astype(object).fillna(ELMAN) if "cell" in frame else ELMAN


def of_cell(frame: pd.DataFrame, cell: str = ELMAN) -> pd.DataFrame:
    """The rows of one cell (a table without a `cell` column holds the Elman cell's only)."""
    if "cell" not in frame:
        return frame if cell == ELMAN else frame.iloc[:0]
    return frame[cell_column(frame).eq(cell)]


def cells(frame: pd.DataFrame) -> list[str]:
    """The cells of a table in the contract's order (rnn_tanh, lstm, gru), others after."""
    present = set(cell_column(frame)) if "cell" in frame else {ELMAN}
    order = ("rnn_tanh", "lstm", "gru")
    return [c for c in order if c in present] + sorted(present - set(order))


def final_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The last row of every run (RUN columns)."""
    table = _key(table)
    return table.sort_values("sequences_seen", kind="stable").groupby(RUN, dropna=False, sort=False).tail(1)


def choose_lr(table: pd.DataFrame) -> pd.DataFrame:
    """Per (regime, setting, lag), the lr with the highest mean final validation accuracy over seeds;
    ties go to the lower mean validation loss, then to the smaller lr. Columns CHOICE + lr."""
    final = final_runs(table)
    scored = final.assign(
        val_accuracy=final["val_accuracy"].fillna(0.0), val_loss=final["val_loss"].fillna(math.inf)
    )
    by_lr = scored.groupby([*CHOICE, "lr"], dropna=False, as_index=False)[["val_accuracy", "val_loss"]].mean()
    best = by_lr.sort_values(["val_accuracy", "val_loss", "lr"], ascending=[False, True, True], kind="stable")
    return best.groupby(CHOICE, dropna=False, sort=False).head(1)[[*CHOICE, "lr"]].reset_index(drop=True)


def mark_chosen_lr(rows: list[dict]) -> list[dict]:
    """rows with `lr_chosen` (bool) set: True on every row of the runs at their group's chosen lr."""
    if not rows:
        return rows
    table = pd.DataFrame(rows)
    chosen = _key(choose_lr(table)).assign(lr_chosen=True)
    marked = _key(table).merge(chosen, on=[*CHOICE, "lr"], how="left")["lr_chosen"].fillna(False)
    return [row | {"lr_chosen": bool(flag)} for row, flag in zip(rows, marked)]


def lag_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (cell, regime, setting, lag) at the chosen lr: lr, seeds, mean test accuracy, its bootstrap
    interval (low, high), diverged runs, chance, reach and `learned`."""
    final = final_runs(table[table["lr_chosen"].astype(bool)])
    records = []
    for key, group in final.groupby(CHOICE, dropna=False, sort=False):
        record = dict(zip(CHOICE, key))
        accuracy = group["test_accuracy"].fillna(0.0).to_numpy()
        chance = float(group["chance_accuracy"].iloc[0])
        low, high = bootstrap_interval(accuracy)
        records.append(
            record | dict(
                lr=float(group["lr"].iloc[0]), seeds=len(group), accuracy=float(accuracy.mean()), low=low,
                high=high, diverged=int(group["status"].ne("ok").sum()), chance=chance,
                reach=reach(record["method"], record["k1"], record["k2"], int(group["T"].iloc[0])),
                learned=learned(accuracy, chance),
            )
        )
    return pd.DataFrame(records)


def setting_key(method: str, k1, k2) -> tuple:
    """(method, k1, k2) with ints, and None where k1 or k2 is empty (NaN in a table)."""
    return (method, *(None if k is None or k != k else int(k) for k in (k1, k2)))


def largest_learned_lag(summary: pd.DataFrame, cell: str = ELMAN) -> dict[tuple, int | None]:
    """(regime, method, k1, k2) -> the largest learned lag of `cell` in a `lag_summary` (None if none);
    k1, k2 as in `setting_key`."""
    return {
        (key[0], *setting_key(*key[1:])): max(
            (int(lag) for lag, ok in zip(group["lag"], group["learned"]) if ok), default=None
        )
        for key, group in of_cell(summary, cell).groupby(["regime", *SETTING], dropna=False, sort=False)
    }


def beyond_reach(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows of `lag_summary` past their setting's reach, beside the readout-only control's accuracy at
    the same (cell, regime, lag) in column `control`."""
    summary = _key(summary)
    control = summary[summary["method"].eq("readout_only")][["cell", "regime", "lag", "accuracy"]]
    past = summary[~summary["method"].eq("readout_only") & (summary["lag"] > summary["reach"])]
    return past.merge(control.rename(columns={"accuracy": "control"}), on=["cell", "regime", "lag"], how="left")
