"""The paper builds from whatever tables a run has, and its text follows the tables."""

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest

from bptt_bench import claims
from bptt_bench.paper import build, numbers
from bptt_bench.tables import BENCHMARK_COLUMNS, write_table

from test_claims import lag_runs
from test_workflow import ROOT


def bench_table():
    base = dict.fromkeys(BENCHMARK_COLUMNS) | dict(
        B=4, H=8, D=2, O=2, dtype="float32", threads=1, seed=0, status="ok", reason=None, python_version="3.11",
        numpy_version="2", torch_version="2.13", jax_version="0.10", blas="openblas", cpu_model="Test CPU 9000",
        commit="abc123", utc_time="2026-01-01T00:00:00+00:00")
    rows = [base | dict(impl="numpy", method="bptt", T=64, time_median_s=0.004, peak_rss_bytes=1000.0),
            base | dict(impl="numpy", method="tbptt", T=64, k1=8, k2=8, time_median_s=0.002, peak_rss_bytes=100.0),
            base | dict(impl="numpy", method="bptt", T=256, status="skipped", reason="over the memory budget")]
    return pd.DataFrame(rows, columns=BENCHMARK_COLUMNS)


def lag_table():
    """Learnable-lag runs: TBPTT(4, 4) learns L = 2 only, BPTT up to 6, the control nothing, in two regimes."""
    runs = [("tbptt", 4, 4, L, acc) for L, acc in ((2, 0.99), (6, 0.4))] + [
        ("bptt", None, None, L, 0.97) for L in (2, 6)] + [("readout_only", 4, None, L, 0.3) for L in (2, 6)]
    return pd.concat([lag_runs(*runs), lag_runs(*runs[:2], regime="online_equal_data")], ignore_index=True)


def paper_text(tmp_path, bench, figures=(), **more) -> str:
    """Build numbers, claims and the PDF from `bench` (and `more` tables, and the figure PDFs at `figures`), as
    the workflow does; the PDF's text."""
    tables = {"benchmarks": bench, **more}
    claims_table = claims.claims_table(tables)
    write_table(claims_table, tmp_path / "claims.csv")
    record = numbers.json_safe(numbers.numbers(tables, [figure.stem for figure in figures], claims_table))
    (tmp_path / "numbers.json").write_text(json.dumps(record))
    pdf = build.build_pdf(ROOT / "paper/paper.typ", tmp_path / "numbers.json", tmp_path / "claims.csv",
                          list(figures), tmp_path / "paper.pdf")
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_numbers_leave_out_what_the_run_lacks():
    record = numbers.numbers({"benchmarks": bench_table()}, [])
    assert record["cells"]["by_status"] == "2 ok, 1 skipped"
    assert record["cells"]["not_ok"][0]["reason"] == "over the memory budget"
    assert record["scaling"]["rows"][0]["time_ratio"] == "0.5"
    assert {"echo", "learning", "learnable_lag", "derivative_free"} <= set(record["missing"])


def test_a_cell_in_two_grids_counts_in_both():
    """A cell measured once for two grids names both (`scaling,truncation`): the paper's scaling table and
    k1 x k2 numbers both include it."""
    base = bench_table().iloc[0].to_dict() | dict(impl="numpy", status="ok", peak_rss_bytes=100.0, T=256)
    rows = [base | dict(method="bptt", T=64, time_median_s=0.01, grid="scaling"),
            base | dict(method="bptt", time_median_s=0.04, grid="scaling,truncation"),
            base | dict(method="checkpointed", segment=16, time_median_s=0.05, grid="scaling,checkpoint_spacing")]
    rows += [base | dict(method="tbptt", k1=k1, k2=k2, time_median_s=0.001 * k1 * k2,
                         grid="scaling,truncation" if (k1, k2) == (8, 8) else "truncation")
             for k1 in (4, 8) for k2 in (4, 8)]
    bench = pd.DataFrame(rows, columns=[*BENCHMARK_COLUMNS, "grid"])
    scaling = numbers.scaling(bench)
    assert {r["setting"] for r in scaling["rows"]} == {"TBPTT(8, 8)", "checkpointed BPTT(c=16)"}
    grid = numbers.truncation_grid(bench)
    assert grid["rows"][0]["n"] == "4" and grid["rows"][0]["slowest"] == "TBPTT(8, 8)"


def test_learnable_lag_numbers_give_the_largest_learned_lag_per_setting_and_regime():
    record = numbers.numbers({"learnable_lag": lag_table()}, [])["learnable_lag"]
    assert record["regimes"] == ["gradient", "online equal data"]
    rows = {r["setting"]: r for r in record["rows"]}
    assert list(rows) == ["TBPTT(4, 4)", "BPTT", "readout only"]  # the control last
    assert rows["TBPTT(4, 4)"]["largest"] == ["2", "2"] and rows["TBPTT(4, 4)"]["reach"] == "3"
    assert rows["BPTT"]["largest"] == ["6", "—"]  # BPTT did not run online here
    assert rows["readout only"]["largest"] == ["none", "—"] and "0.3 (L = 6)" in rows["readout only"]["by_lag"]


def test_cells_are_compared_on_the_largest_learned_lag_and_the_gradient_cosine():
    elman = lag_table().assign(cell="rnn_tanh")
    gru_runs = [("tbptt", 4, 4, 2, 0.3), ("tbptt", 4, 4, 6, 0.3), ("bptt", None, None, 2, 0.97), ("bptt", None, None, 6, 0.95)]
    gru = lag_runs(*gru_runs, seeds=2).assign(cell="gru")
    record = numbers.numbers({"learnable_lag": pd.concat([elman, gru], ignore_index=True)}, [])["lag_by_cell"]
    assert record["settings"] == ["TBPTT(4, 4)", "BPTT", "readout only"]
    rows = {r["cell"]: r for r in record["rows"]}
    assert list(rows) == ["rnn_tanh", "gru"]
    assert rows["rnn_tanh"]["largest"] == ["2", "6", "none"] and rows["rnn_tanh"]["seeds"] == "3"
    assert rows["gru"]["largest"] == ["none", "6", "—"] and rows["gru"]["seeds"] == "2"  # no control for the GRU

    bias = pd.DataFrame([dict(cell=cell, state=state, impl=impl, k1=k1, k2=k2, batch=0, T=32, lag=8, relative_error=0.1,
                              cosine=(0.5 if cell == "lstm" else 0.9) + 0.01 * k1 - (0.2 if state == "trained" else 0))
                         for cell in ("lstm", "rnn_tanh") for state in ("init", "trained") for impl in ("numpy", "torch")
                         for k1 in (2, 4) for k2 in (4, 32)])
    record = numbers.numbers({"gradient_bias": bias}, [])
    assert record["gradient_bias"]["framework_spread"] == "0"  # the cells differ, the frameworks agree
    cosines = record["cosine_by_cell"]
    assert cosines["k2"] == ["4"]  # k2 = T is BPTT's own gradient
    assert [(r["cell"], r["state"], r["cosine"]) for r in cosines["rows"]] == [
        ("rnn_tanh", "init", ["0.93"]), ("rnn_tanh", "trained", ["0.73"]),
        ("lstm", "init", ["0.53"]), ("lstm", "trained", ["0.33"])]


@pytest.mark.skipif(shutil.which("pdftotext") is None,
                    reason="pdftotext (Debian package poppler-utils) is not installed: apt-get install poppler-utils")
def test_a_section_that_cannot_be_computed_is_named_with_its_reason_and_the_paper_builds(tmp_path):
    broken_echo = pd.DataFrame({"seed": [0]})  # no k1, loss, ...: the echo section raises
    record = numbers.numbers({"benchmarks": bench_table(), "echo": broken_echo}, [])
    assert "echo" in record["missing"] and "scaling" in record  # the other sections are still computed
    assert record["errors"]["echo"]["reason"].startswith("KeyError")
    assert record["errors"]["echo"]["table"] == "echo"
    text = " ".join(paper_text(tmp_path, bench_table(), echo=broken_echo).split())
    assert "Could not be computed from the table echo" in text
    assert f"echo: {record['errors']['echo']['reason']}" in text  # the section and its reason


@pytest.mark.skipif(shutil.which("pdftotext") is None,
                    reason="pdftotext (Debian package poppler-utils) is not installed: apt-get install poppler-utils")
def test_changing_a_table_value_changes_the_paper(tmp_path):
    bench = bench_table()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    before = paper_text(tmp_path / "a", bench)
    bench.loc[1, "time_median_s"] = 0.003  # TBPTT(8, 8): 0.5x -> 0.75x of BPTT
    after = paper_text(tmp_path / "b", bench)
    assert before != after
    assert "Test CPU 9000" in before and "over the memory budget" in before  # set-up and the skipped cell
    assert "0.5" in before and "0.75" in after and "0.75" not in before
    assert "not measured in this run" in after.lower() or "was not produced" in after


@pytest.mark.skipif(shutil.which("pdftotext") is None,
                    reason="pdftotext (Debian package poppler-utils) is not installed: apt-get install poppler-utils")
def test_a_semicolon_after_a_number_is_printed(tmp_path):
    """Typst ends an embedded expression at a semicolon and drops it (`#x;`): the source escapes it."""
    text = " ".join(paper_text(tmp_path, bench_table()).split())
    assert "JAX 0.10; 1 thread(s) per cell" in text
    assert re.search(r"it pays 0\.5192; knowing both", text)


@pytest.mark.skipif(shutil.which("pdftotext") is None,
                    reason="pdftotext (Debian package poppler-utils) is not installed: apt-get install poppler-utils")
def test_the_learnable_lag_table_reaches_the_paper(tmp_path):
    text = paper_text(tmp_path, bench_table(), learnable_lag=lag_table())
    assert "Largest learned delayed-recall lag" in text and "readout only" in text
    assert "online equal data" in text
    assert "per recurrent cell" not in text  # one cell: nothing to compare
    two_cells = pd.concat([lag_table().assign(cell="rnn_tanh"), lag_table().assign(cell="lstm")], ignore_index=True)
    text = " ".join(paper_text(tmp_path, bench_table(), learnable_lag=two_cells).split())
    assert "Largest learned delayed-recall lag per recurrent cell and setting" in text and "lstm" in text


# The study's figure PDFs (points, width x height) at the time of writing; gradient_bias is a page tall.
FIGURE_SIZES = {
    "time_vs_T": (1405, 331), "memory_vs_T": (1405, 612), "truncation_heatmaps": (1088, 304),
    "peak_fraction": (1405, 331), "learnable_lag": (1088, 669), "loss_curves": (908, 605), "pareto": (872, 612),
    "gradient_decay": (599, 338), "gradient_bias": (872, 900), "truncated_norms": (440, 268), "echo": (440, 268),
    "derivative_free": (440, 268),
}


@pytest.mark.skipif(shutil.which("pdftotext") is None,
                    reason="pdftotext (Debian package poppler-utils) is not installed: apt-get install poppler-utils")
@pytest.mark.parametrize("pareto_height", range(200, 1300, 150))  # moves the page breaks of the sections after it
def test_figures_are_numbered_in_the_order_they_are_printed(tmp_path, pareto_height):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figures = []
    for name, (width, height) in (FIGURE_SIZES | {"pareto": (872, pareto_height)}).items():
        figure = Figure(figsize=(width / 72, height / 72))
        figure.add_subplot().set_title(name)
        figures.append(tmp_path / f"{name}.pdf")
        figure.savefig(figures[-1])
    text = paper_text(tmp_path, bench_table(), figures, learnable_lag=lag_table())
    printed = [int(n) for n in re.findall(r"^\s*Figure (\d+):", text, re.MULTILINE)]
    assert len(printed) == len(FIGURE_SIZES)
    assert printed == sorted(printed)
