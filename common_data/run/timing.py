"""What a run times and how: the record's `timing` section, and the one timed-steps loop that
runs and the benchmark workloads share.

* a step is timed with `perf_counter` around the step (`Twin.train_step`, which returns only
  after the device finished); the data wait is the time spent in the batch iterator before it;
* warm-up is the first step at each batch shape (tf.function, XLA and torch.compile trace or
  compile per shape, and the last partial batch is a new shape); warm-up steps are summed into
  `warmup_s` and left out of `step_ms_median`, `step_ms_p90` and `images_per_s`;
* `images_per_s` is the steady-state compute throughput: images of the timed steps over their
  step time; `device_s` is the time inside all train steps, warm-up included; `train_s` the
  wall time of the training phases (data waits included), `eval_s` that of validation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from time import perf_counter
from typing import TypeVar

import numpy as np

Batch = TypeVar("Batch")
Result = TypeVar("Result")


def timed_steps(
    batches: Iterator[Batch], step: Callable[[Batch], Result]
) -> Iterator[tuple[Batch, Result, float, float]]:
    """(batch, step result, data wait s, step s) for each batch: the wait is the time inside
    the batch iterator, the step time that inside `step`. Both are taken before yielding, so
    whatever the caller does with a result is in neither."""
    while True:
        waiting = perf_counter()
        batch = next(batches, None)
        if batch is None:
            return
        stepping = perf_counter()
        result = step(batch)
        done = perf_counter()
        yield batch, result, stepping - waiting, done - stepping


@dataclass
class Timing:
    """Accumulates the measurements described in the module docstring."""

    warmup_s: float = 0.0
    device_s: float = 0.0
    train_s: float = 0.0
    eval_s: float = 0.0
    timed_images: int = 0
    step_s: list[float] = field(default_factory=list)
    wait_s: list[float] = field(default_factory=list)
    seen_shapes: set[tuple[int, ...]] = field(default_factory=set)

    def add_step(self, shape: tuple[int, ...], seconds: float, waited: float) -> None:
        self.device_s += seconds
        self.wait_s.append(waited)
        if shape in self.seen_shapes:
            self.step_s.append(seconds)
            self.timed_images += shape[0]
        else:
            self.seen_shapes.add(shape)
            self.warmup_s += seconds

    def summary(self, total_s: float) -> dict[str, float | None]:
        steps = np.asarray(self.step_s)
        timed = bool(steps.size)
        return {
            "warmup_s": self.warmup_s,
            "step_ms_median": float(np.median(steps)) * 1e3 if timed else None,
            "step_ms_p90": float(np.percentile(steps, 90)) * 1e3 if timed else None,
            "images_per_s": self.timed_images / float(steps.sum()) if timed else None,
            "train_s": self.train_s,
            "device_s": self.device_s,
            "data_wait_ms_median": float(np.median(self.wait_s)) * 1e3 if self.wait_s else None,
            "data_wait_fraction": sum(self.wait_s) / self.train_s if self.train_s else None,
            "eval_s": self.eval_s,
            "total_s": total_s,
        }
