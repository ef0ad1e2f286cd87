"""Write results/paper/numbers.json: every number the paper quotes, from this run's tables."""

import json
import sys
from pathlib import Path

import pandas as pd

from bptt_bench.claims import read_tables
from bptt_bench.paper.numbers import json_safe, numbers
from bptt_bench.tables import write_atomically

sys.stdout = sys.stderr = open(snakemake.log[0], "w")
names = [name for name in snakemake.input.keys() if name not in ("claims", "figures")]
tables = read_tables({name: snakemake.input[name] for name in names})
figures = [Path(path).stem for path in snakemake.input.figures]
record = json_safe(numbers(tables, figures, pd.read_csv(snakemake.input.claims)))
write_atomically(snakemake.output[0], lambda tmp: tmp.write_text(json.dumps(record, indent=1, default=str) + "\n"))
