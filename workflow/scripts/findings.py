"""One HTML page with what each figure's data says (the figure summaries of this run)."""

import html
import json
import sys
from pathlib import Path

from bptt_bench.tables import write_atomically

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
sections = []
for path in snakemake.input:
    for figure, text in json.loads(Path(path).read_text()).items():
        sections.append(f"<h3>{html.escape(figure)}</h3>\n<p>{html.escape(text)}</p>")
page = "<html><body>\n<h2>Findings of this run</h2>\n" + "\n".join(sections) + "\n</body></html>\n"
write_atomically(snakemake.output[0], lambda tmp: tmp.write_text(page))
