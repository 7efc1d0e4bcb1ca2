"""Environment variables through which the harness tells a run process where it runs.

Both sides need the names (the harness sets them, `common_data.run.host` reads them), so they
live here rather than in either side's code.
"""

CONCURRENT_RUNS_ENV = "THERMAL_BENCH_CONCURRENT_RUNS"  # set by the harness's --jobs
NODE_ENV = "THERMAL_BENCH_NODE"  # set by the Ray executor: the id of the node that ran the run
