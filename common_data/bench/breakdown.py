"""Where a training step's time goes: the framework-free half of the per-op profile.

`python -m pytorch_impl.op_profile` and `python -m tf_impl.op_profile` (`--mode NAME --out
FILE`, the suite selection in `THERMAL_BENCH_PERF`, as the benchmark suites get it) build the
twin exactly as the suites do, warm it up, and hand `profile_steps` training steps at the
profile's primary input size to the framework's own profiler (torch.profiler; TensorFlow's
profiler, its XSpace read back). The framework returns each op type's self time; this module
turns that into the table PERFORMANCE.md shows, so both twins' tables mean the same thing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any

from common_data.atomic import write_json_atomic
from common_data.bench import suite as suite_plan
from common_data.bench import workload
from common_data.run.twin import Twin

TOP_OPS = 12  # rows kept per twin; the rest is summed into one row
WARMUP_STEPS = 2  # tracing, first-touch allocations and kernel primitive creation stay out
# op type -> self seconds over all profiled steps, and the wall seconds of those steps
OpTimes = tuple[dict[str, float], float]
Profiler = Callable[[Callable[[], object], int], OpTimes]


def profile_main(framework: str, make_twin: Callable[[], Twin], profiler: Profiler,
                 argv: Sequence[str] | None = None) -> int:
    """The entry point both twins' `op_profile` modules call with their own profiler."""
    parser = argparse.ArgumentParser(prog=f"python -m {framework} op_profile")
    parser.add_argument("--mode", default="default", choices=suite_plan.framework_modes(framework))
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    selection = suite_plan.SuiteSelection.from_env(framework)
    selection.check_process_env(framework)
    profile = suite_plan.load_suite_profile(selection.profile)
    bench = workload.load_bench_data(profile, selection.data, profile.image_size)
    twin = workload.build_twin(make_twin, framework, args.mode, selection, profile.batch_size,
                               bench.spec)
    x, y = bench.batch(profile.batch_size)
    for _ in range(WARMUP_STEPS):
        twin.train_step(x, y)
    started = perf_counter()
    ops, wall_s = profiler(lambda: twin.train_step(x, y), profile.profile_steps)
    result = breakdown(ops, wall_s, profile.profile_steps)
    result.update(framework=framework, mode=args.mode, threads=selection.threads,
                  **workload.process_info(framework, selection), image_size=profile.image_size,
                  batch_size=profile.batch_size, profiled_s=perf_counter() - started,
                  environment=twin.environment())
    write_json_atomic(args.out, result)
    return 0


def breakdown(ops: Mapping[str, float], wall_s: float, steps: int) -> dict[str, Any]:
    """Per op type its milliseconds per step and share of the step's wall time, the largest
    first; the ops below the top rows are summed, and the wall time no op accounts for
    (Python, dispatch, the profiler's own cost) is a row of its own."""
    step_ms = 1e3 * wall_s / steps
    ranked = sorted(((name, 1e3 * s / steps) for name, s in ops.items() if s > 0),
                    key=lambda item: -item[1])
    rows = [{"op": name, "ms": ms} for name, ms in ranked[:TOP_OPS]]
    rest = sum(ms for _, ms in ranked[TOP_OPS:])
    if rest:
        rows.append({"op": f"other ops ({len(ranked) - TOP_OPS})", "ms": rest})
    in_ops = sum(ms for _, ms in ranked)
    rows.append({"op": "outside ops (Python, dispatch, profiler)", "ms": max(step_ms - in_ops, 0)})
    for row in rows:
        row["fraction"] = row["ms"] / step_ms if step_ms else None
    return {"steps": steps, "step_ms": step_ms, "ops_ms": in_ops, "rows": rows}
