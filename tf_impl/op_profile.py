"""`python -m tf_impl.op_profile --mode NAME --out FILE`: where a training step's time goes,
per op type, from TensorFlow's profiler (see common_data.bench.breakdown, which builds the twin
and writes the table; this file only runs the profiler and reads its XSpace back).

The harness sets TF_ENABLE_ONEDNN_OPTS for the mode before this process starts; oneDNN's
kernels then show under their own op types (e.g. `_MklNativeConv2D`).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from common_data.bench.breakdown import OpTimes, profile_main
from tf_impl.run import make_twin

HOST_PLANE = "/host:CPU"


def op_times(step: Callable[[], object], steps: int) -> OpTimes:
    """Self time per op type over `steps` calls, and their wall time. The executor's op
    events carry their type as display name; an event's self time is its duration less the
    events nested in it on the same thread."""
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        started = perf_counter()
        for _ in range(steps):
            step()
        wall_s = perf_counter() - started
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        for path in Path(logdir).rglob("*.xplane.pb"):
            space.MergeFromString(path.read_bytes())
    ops: dict[str, float] = {}
    for plane in space.planes:
        if plane.name != HOST_PLANE:
            continue
        for line in plane.lines:
            for op, seconds in _self_times(plane, line):
                ops[op] = ops.get(op, 0.0) + seconds
    return ops, wall_s


def _self_times(plane: xplane_pb2.XPlane, line: xplane_pb2.XLine) -> list[tuple[str, float]]:
    """(op type, self seconds) of one thread's op events: nesting is found with a stack of
    the open events, each child's duration taken off its parent."""
    events = sorted(line.events, key=lambda e: (e.offset_ps, -e.duration_ps))
    self_ps = [e.duration_ps for e in events]
    stack: list[int] = []
    for i, event in enumerate(events):
        while stack and events[stack[-1]].offset_ps + events[stack[-1]].duration_ps \
                <= event.offset_ps:
            stack.pop()
        if stack:
            self_ps[stack[-1]] -= event.duration_ps
        stack.append(i)
    out = []
    for event, ps in zip(events, self_ps, strict=True):
        op_type = plane.event_metadata[event.metadata_id].display_name
        if op_type:
            out.append((op_type, ps / 1e12))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    return profile_main("tf", make_twin, op_times, argv)


if __name__ == "__main__":
    sys.exit(main())
