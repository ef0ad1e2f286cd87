"""How much of a study's cell time is measurement: sum of cell wall / (sum of timed repeats + compile).

    python benchmarks/overhead.py results/tables/benchmarks.csv

A cell's wall is cell_wall_s (its forked process: set-up, warm-up, repeats) plus import_s
(the worker's start-up and framework import, on the first row of each worker); the target
of issue 8 is a ratio of at most 1.6.
"""

from __future__ import annotations

import argparse

import pandas as pd


def overhead(table: pd.DataFrame) -> pd.DataFrame:
    """Per implementation and in total: cell wall, timed repeats, compile and their ratio (measured cells)."""
    measured = table[table["status"] != "skipped"].copy()
    measured["timed_plus_compile_s"] = measured["time_total_s"].fillna(0) + measured["compile_s"].fillna(0)
    measured["cell_wall_s"] = measured["cell_wall_s"] + measured["import_s"].fillna(0)
    columns = ["cell_wall_s", "time_total_s", "compile_s", "import_s", "setup_s", "timed_plus_compile_s"]
    per_impl = measured.groupby("impl")[columns].sum()
    per_impl.loc["all"] = per_impl.sum()
    per_impl["ratio"] = per_impl["cell_wall_s"] / per_impl["timed_plus_compile_s"]
    return per_impl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", help="benchmarks.csv or .parquet of a study")
    path = parser.parse_args().table
    table = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    result = overhead(table)
    with pd.option_context("display.float_format", "{:.2f}".format):
        print(result.to_string())
    print(f"\ncells: {int((table['status'] != 'skipped').sum())}; sum of cell wall / (timed repeats + compile) = "
          f"{result.loc['all', 'ratio']:.2f} (target <= 1.6)")


if __name__ == "__main__":
    main()
