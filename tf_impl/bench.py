"""pytest-benchmark suite of the TensorFlow twin, run by `python -m benchmarks performance`.

`python -m pytest tf_impl/bench.py --benchmark-json OUT` with `THERMAL_BENCH_PERF`
naming the profile, the thread count and TF's oneDNN setting (see
`common_data.bench.suite`, which plans every case, and `common_data.bench.workload`, which
builds the twin through `make_twin` and `Twin.build`, as runs do). This file adds only what
needs TensorFlow itself: the float32 matmul that measures the machine's peak, the GPU probe and
each case's peak GPU memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import tensorflow as tf

from common_data.bench import suite as suite_plan
from common_data.bench import workload
from tf_impl.run import make_twin
from tf_impl.twin import configure_runtime

FRAMEWORK = "tf"
SELECTION = suite_plan.SuiteSelection.from_env(FRAMEWORK)
SELECTION.check_process_env(FRAMEWORK)
PROFILE = suite_plan.load_suite_profile(SELECTION.profile)
VERSION = {"framework_version": tf.__version__}


@pytest.fixture(scope="module")
def runtime() -> None:
    """Threads are set before the first op: TF can set them only then, and torch mirrors it."""
    configure_runtime(workload.run_config(FRAMEWORK, "default", SELECTION, PROFILE.batch_size,
                                          PROFILE.image_size))


def gpu_available() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


@pytest.fixture
def device_memory(benchmark: Any) -> Iterator[None]:
    """On a GPU, the case's own peak of allocated memory (`peak_memory_mb`): the allocator's
    high-water mark is reset first, or a small case would report a larger one's peak."""
    if gpu_available():
        tf.config.experimental.reset_memory_stats("GPU:0")
    yield
    if gpu_available():
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
        benchmark.extra_info["peak_memory_mb"] = peak / 2**20


def run_matmul(benchmark: Any, precision: str) -> None:
    """Square matmul with the suite's thread count: float32 (`sgemm`) is the peak the twins
    are held to, TF32 off (configure_runtime), so a GPU peak is true float32 too; `bf16` is
    the peak of a mixed_bfloat16 mode."""
    device = "/GPU:0" if gpu_available() else "/CPU:0"
    dtype = tf.bfloat16 if precision == "bf16" else tf.float32
    with tf.device(device):
        a, b = (tf.cast(tf.constant(m), dtype)
                for m in workload.matmul_operands(PROFILE.matmul_size))

    def multiply() -> float:
        with tf.device(device):
            return float(tf.linalg.matmul(a, b)[0, 0])

    info = workload.matmul_info(FRAMEWORK, SELECTION, PROFILE.matmul_size, device, precision)
    workload.measure(benchmark, multiply, PROFILE.matmul_rounds, 1, {**info, **VERSION})


@pytest.mark.parametrize("case", suite_plan.cases(FRAMEWORK, PROFILE, SELECTION), ids=str)
@pytest.mark.usefixtures("runtime", "device_memory")
def test_case(benchmark: Any, case: suite_plan.Case) -> None:
    if case.kind == "matmul":
        reason = suite_plan.unavailable_reason(case.mode, gpu_available())
        if reason:
            pytest.skip(reason)
        run_matmul(benchmark, case.mode)
        return
    try:
        workload.run_case(benchmark, case, framework=FRAMEWORK, make_twin=make_twin,
                          profile=PROFILE, selection=SELECTION, gpu=gpu_available(), info=VERSION)
    except suite_plan.Unavailable as exc:
        pytest.skip(str(exc))
