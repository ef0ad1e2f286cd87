"""Measurement: one small module per concern (environment, timing, memory, peak, provenance, cell).

Nothing here imports a framework at module level: a measured cell runs in its own
process, whose environment (threads, CPU affinity, BLAS kernel) is set before the
framework is imported.
"""
