"""Figures of the study, one module per kind of table; each plot_* reads a table and writes out_stem.png/.pdf."""

from __future__ import annotations

from pathlib import Path

from bptt_bench.tables import write_atomically


def save_figure(fig, out_stem) -> list[Path]:
    """out_stem.png (150 dpi) and out_stem.pdf, each written atomically."""
    out_stem = Path(out_stem)
    return [
        write_atomically(
            out_stem.with_suffix(f".{fmt}"),
            lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight"),
        )
        for fmt in ("png", "pdf")
    ]


def note_figure(title: str, why: str):
    """A figure that says why there is nothing to draw, saved in place of one whose cells this study lacks."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.5), layout="constrained")
    fig.suptitle(title, fontsize=11)
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, f"Nothing to draw in this study:\n{why}", ha="center", va="center", fontsize=10, wrap=True)
    return fig
