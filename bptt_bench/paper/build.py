"""Compile the paper with the `typst` package (a compiler in a wheel; no TeX).

The Typst source reads `numbers.json`, `claims.csv` and `figures/<name>.pdf` beside it.
`build_pdf` copies the source and those inputs into a fresh directory that becomes
Typst's root, so the PDF depends on exactly the files named here.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bptt_bench.tables import write_atomically


def build_pdf(source: Path | str, numbers: Path | str, claims: Path | str, figures: list[Path | str],
              output: Path | str) -> Path:
    """output (a PDF) from the Typst source, numbers.json, claims.csv and the figure PDFs."""
    import typst

    with tempfile.TemporaryDirectory(prefix="paper-") as root:
        root = Path(root)
        shutil.copy(source, root / "paper.typ")
        shutil.copy(numbers, root / "numbers.json")
        shutil.copy(claims, root / "claims.csv")
        (root / "figures").mkdir()
        for figure in figures:
            shutil.copy(figure, root / "figures" / Path(figure).name)
        pdf = typst.compile(str(root / "paper.typ"), root=str(root))
    return write_atomically(output, lambda tmp: tmp.write_bytes(pdf))
