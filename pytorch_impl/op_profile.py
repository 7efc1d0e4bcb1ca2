"""`python -m pytorch_impl.op_profile --mode NAME --out FILE`: where a training step's time
goes, per op, from torch.profiler (see common_data.bench.breakdown, which builds the twin and
writes the table; this file only runs the profiler).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from time import perf_counter

from torch.profiler import ProfilerActivity, profile

from common_data.bench.breakdown import OpTimes, profile_main
from pytorch_impl.run import make_twin


def op_times(step: Callable[[], object], steps: int) -> OpTimes:
    """Self CPU time per aten op over `steps` calls (a nested op's time counts once, in the op
    that ran it), and their wall time."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        started = perf_counter()
        for _ in range(steps):
            step()
        wall_s = perf_counter() - started
    ops: dict[str, float] = {}
    for event in prof.key_averages():
        ops[event.key] = ops.get(event.key, 0.0) + event.self_cpu_time_total / 1e6
    return ops, wall_s


def main(argv: Sequence[str] | None = None) -> int:
    return profile_main("torch", make_twin, op_times, argv)


if __name__ == "__main__":
    sys.exit(main())
