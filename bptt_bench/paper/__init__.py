"""The paper (results/paper/paper.pdf): its own experiments, figures, numbers and build.

- experiments: the registry of the paper's small experiments (echo, derivative-free,
  truncated norms, the PyTorch-Ignite peer check) and their tables' columns;
- figures: their figures;
- numbers: results/paper/numbers.json, every number the text quotes, from the tables;
- build: paper/paper.typ + numbers + claims + figures -> PDF with the `typst` package.
"""
