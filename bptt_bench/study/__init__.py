"""The study's plumbing that is worth testing without Snakemake: configuration and the grid."""
