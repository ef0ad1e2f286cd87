"""Figures of the study, one module per kind of table; each plot_* reads a table and writes out_stem.png/.pdf."""
