"""What the study's tables say: small pure functions over tables, apart from any drawing.

`settings`: the study's words for a training setting ('BPTT', 'TBPTT(k1, k2)') and their
one order; `benchmarks`: blocks, growth ratios and extremes of the benchmark table;
`learning`: largest learned lag, final losses, Pareto fronts, gradient bias and decay.
Figures, captions, `findings.html` and README quote only what these functions return.
"""
