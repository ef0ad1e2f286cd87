"""HTML pages of the study: the findings page (from the figures' summaries) and a table as a page.

A summary entry (figures.benchmarks.summarize, figures.learning.summarize_*) is a dict with
'title', 'says' (a sentence), 'table' ({'columns': [...], 'rows': [[text, ...]]}) and
'notes' (sentences), and optionally 'figure' (the files it describes; default '<name>.png'); this
module only lays them out.
"""

from __future__ import annotations

import html

import pandas as pd

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 62rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem;
     border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
p.lead { color: #555; margin-top: 0; } nav a { margin-right: .8rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
th, td { border: 1px solid #d5d5d5; padding: .3rem .6rem; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
tbody tr:nth-child(even) { background: #fafafa; }
.notes { color: #555; font-size: .9rem; } .figure { color: #777; font-size: .85rem; }
"""


def _table(columns: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, lead: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
        f'<p class="lead">{html.escape(lead)}</p>\n{body}\n</body></html>\n'
    )


def findings_page(summaries: dict[str, dict]) -> str:
    """The findings page: one section per figure (in the order given) with its sentence, table and notes."""
    nav = (
        "<nav>"
        + "".join(
            f'<a href="#{html.escape(name)}">{html.escape(entry["title"])}</a>'
            for name, entry in summaries.items()
        )
        + "</nav>"
    )
    sections = []
    for name, entry in summaries.items():
        table = entry.get("table") or {}
        notes = "".join(f'<p class="notes">{html.escape(n)}</p>' for n in entry.get("notes", []))
        sections.append(
            f'<section id="{html.escape(name)}"><h2>{html.escape(entry["title"])}</h2>'
            f"<p>{html.escape(entry['says'])}</p>"
            + (_table(table["columns"], table["rows"]) if table.get("rows") else "<p>(no rows)</p>")
            + notes
            + f'<p class="figure">Figure: {html.escape(entry.get("figure", f"{name}.png"))}</p></section>'
        )
    return _page(
        "Findings of this run",
        "The headline numbers behind each figure, computed from this run's tables by "
        "bptt_bench.analysis when the figures were drawn.",
        nav + "\n" + "\n".join(sections),
    )


def table_page(table: pd.DataFrame, title: str, lead: str) -> str:
    """A table as a styled HTML page; floats to 4 significant digits, empty cells blank."""
    rows = [
        ["" if pd.isna(v) else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
        for row in table.itertuples(index=False)
    ]
    return _page(title, lead, _table(list(table.columns), rows))
