"""The findings page: the figures' summaries (titles, sentences, key-number tables) as one styled HTML page."""

import json
import sys
from pathlib import Path

from bptt_bench.figures.findings import findings_page
from bptt_bench.tables import write_atomically

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
summaries = {}
for path in snakemake.input:
    summaries |= json.loads(Path(path).read_text())
page = findings_page(summaries)
write_atomically(snakemake.output[0], lambda tmp: tmp.write_text(page))
