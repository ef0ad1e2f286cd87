"""bptt-bench: the study around the implementations (cost model, tasks, measurement, workflow glue)."""
