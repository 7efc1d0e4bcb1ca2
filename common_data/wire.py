"""What the harness and a run process exchange besides the record: environment variables in,
progress lines out.

Both sides need these names (the harness writes what a run reads, and reads what it
prints), so they live here rather than in either side's code.
"""

CONCURRENT_RUNS_ENV = "THERMAL_BENCH_CONCURRENT_RUNS"  # set by the harness's --jobs
NODE_ENV = "THERMAL_BENCH_NODE"  # set by the Ray executor: the id of the node that ran the run
PROGRESS_PREFIX = "@@progress "  # starts each epoch's JSON line on a run's stderr
