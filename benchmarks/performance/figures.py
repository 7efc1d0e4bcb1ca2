"""The performance figures, computed from the suites' pytest-benchmark JSON and run records.

Pure functions of their inputs (no subprocess, no clock), so tests can check every figure on
synthetic inputs. Conventions:

* a step's throughput uses the median round (robust to a noisy shared machine); the matmul
  peak uses the best round, as peaks are reported;
* achieved FLOP/s = images/s x FLOPs per image (common_data.model.spec: a multiply-add is 2 FLOPs;
  training counts the forward pass, the weight gradients and the input gradients but the
  image's); its fraction of peak is taken against the machine's peak in the row's own
  precision at the same thread count: the best matmul either framework reached with that many
  threads, in float32 (sgemm) for a float32 mode and in bf16 for a bf16 mode (mixed_precision:
  a bf16 step held to the float32 peak would pass a target the hardware's bf16 units make
  easy, and a float32 step cannot reach the bf16 peak); the target is the machine's limit,
  and one framework's matmul measured during a load spike on a shared machine must not lower
  the bar;
* harness overhead = (matrix wall time - sum of the runs' train_s + eval_s) / wall time, over
  the records that the matrix itself ran (their start and end lie inside its wall interval).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from common_data.bench.suite import (
    MATMUL_PRECISIONS,
    mode_precision,
    process_fields,
    process_setting,
)
from common_data.frameworks import FRAMEWORKS

CLOCK_SLACK_S = 2.0  # records carry whole-second timestamps
# benchmarks/performance/bench_data.py's one augmented epoch (extra_info "frames"): the loader
# figure of
# the framework-free env.
DATA_SUITE_LOADER = "test_batch_iteration[augmented]"


@dataclass(frozen=True)
class Row:
    """One benchmark of a framework suite, flattened for the tables."""

    framework: str
    kind: str
    mode: str
    threads: int
    batch_size: int
    median_s: float
    min_s: float
    rounds: int
    first_call_s: float | None
    device: str
    images_per_s: float | None
    gflops: float | None
    info: dict[str, Any]
    image_size: int | None = None  # None: a matmul, or a suite from before input sizes
    # the setting of the framework's process mode (common_data.frameworks); None: the
    # framework has none, or a suite from before it was recorded
    process_mode: bool | None = None
    precision: str = "sgemm"       # the matmul peak it is held to: "sgemm" (float32), "bf16"


@dataclass(frozen=True)
class Target:
    """One of the issue's targets; `key` is the performance.json figure it judges."""

    key: str
    text: str
    threshold: float
    higher_is_better: bool


TARGETS = (
    Target("loader_over_train", "loader >= 20x the fastest twin's training throughput",
           20.0, True),
    Target("data_wait_fraction", "data wait < 5 % of step time", 0.05, False),
    *(Target(f"peak_fraction.{key}",
             f"{fw.name} twin's best mode >= 50 % of measured matmul peak (128x128, batch 32)",
             0.50, True) for key, fw in FRAMEWORKS.items()),
    Target("speedup_vs_published_pipeline.overall",
           "end to end >= 5x faster than the published pipeline's approach", 5.0, True),
    Target("harness_overhead_fraction", "harness overhead < 5 % on the paper profile",
           0.05, False),
    Target("verdict_speedup.finding",
           "the finding's matrix (schedule64) >= 1.5x faster with the chosen modes, threads "
           "and --jobs than out of the box", 1.5, True),
)


def rows_from_suite(suite: Mapping[str, Any]) -> list[Row]:
    """Rows of one pytest-benchmark JSON file written by a framework suite."""
    rows = []
    for bench in suite.get("benchmarks", []):
        info, stats = bench["extra_info"], bench["stats"]
        median, best = float(stats["median"]), float(stats["min"])
        images = info.get("images")
        images_per_s = images / median if images else None
        if info["kind"] == "matmul":
            gflops = info["flops"] / best / 1e9
        elif info["kind"] in ("train", "eval"):
            gflops = achieved_gflops(images_per_s or 0.0, info["flops_per_image"])
        else:
            gflops = None
        rows.append(Row(
            framework=info["framework"], kind=info["kind"], mode=info["mode"],
            threads=int(info["threads"]),
            batch_size=int(info.get("batch_size", info.get("size", 0))),
            median_s=median, min_s=best, rounds=int(stats["rounds"]),
            first_call_s=info.get("first_call_s"), device=str(info.get("device", "cpu")),
            images_per_s=images_per_s, gflops=gflops, info=info,
            image_size=info.get("image_size"),
            process_mode=process_setting(info["framework"], info),
            precision=_precision(info),
        ))
    return rows


def _precision(info: Mapping[str, Any]) -> str:
    """A matmul's own precision (its mode); a step's as its suite recorded it, or for a suite
    from before that, as the workload's mode table says."""
    if info["kind"] == "matmul":
        return str(info["mode"])
    return str(info.get("precision") or mode_precision(info["framework"], info["mode"]))


def achieved_gflops(images_per_s: float, flops_per_image: float) -> float:
    return images_per_s * flops_per_image / 1e9


def matmul_peaks(rows: Iterable[Row], precision: str = "sgemm") -> dict[str, dict[int, float]]:
    """framework -> threads -> best matmul GFLOP/s in `precision` (a framework with a process
    mode measures it in each of its processes)."""
    peaks: dict[str, dict[int, float]] = {}
    for row in rows:
        if row.kind == "matmul" and row.mode == precision and row.gflops is not None:
            by_threads = peaks.setdefault(row.framework, {})
            by_threads[row.threads] = max(by_threads.get(row.threads, 0.0), row.gflops)
    return peaks


def machine_peaks(peaks: Mapping[str, Mapping[int, float]]) -> dict[int, float]:
    """threads -> the best matmul GFLOP/s of any framework at that thread count."""
    out: dict[int, float] = {}
    for by_threads in peaks.values():
        for threads, gflops in by_threads.items():
            out[threads] = max(out.get(threads, 0.0), gflops)
    return out


Peaks = Mapping[str, Mapping[int, float]]  # precision -> threads -> the machine's GFLOP/s


def precision_peaks(rows: Iterable[Row]) -> dict[str, dict[int, float]]:
    """precision -> threads -> the machine's peak (`machine_peaks`) in that precision."""
    rows = list(rows)
    return {precision: peaks for precision in MATMUL_PRECISIONS
            if (peaks := machine_peaks(matmul_peaks(rows, precision)))}


def peak_fraction(row: Row, peaks: Peaks) -> float | None:
    """The row's achieved FLOP/s over the machine's peak in its precision at its thread
    count; None where that peak was not measured (never another precision's)."""
    peak = peaks.get(row.precision, {}).get(row.threads)
    if row.gflops is None or not peak:
        return None
    return row.gflops / peak


def best_peak_fraction(rows: Iterable[Row], peaks: Peaks, batch_size: int,
                       image_size: int) -> dict[str, dict[str, Any]]:
    """Per framework, the training row at `batch_size` and `image_size` with the highest
    fraction of the machine's peak in its own precision (`precision_peaks`). A row without a
    size (a suite from before input sizes) ran at its profile's only size."""
    best: dict[str, dict[str, Any]] = {}
    rows = list(rows)
    for row in rows:
        fraction = peak_fraction(row, peaks)
        if (row.kind != "train" or row.batch_size != batch_size or fraction is None
                or row.image_size not in (image_size, None)):
            continue
        if fraction > best.get(row.framework, {}).get("fraction", -1.0):
            eval_row = _matching(rows, row, "eval")
            best[row.framework] = {
                "fraction": fraction, "mode": row.mode, "threads": row.threads,
                "image_size": image_size, **process_fields(row.framework, row.info),
                "gflops": row.gflops, "precision": row.precision,
                "peak_gflops": peaks[row.precision][row.threads],
                "images_per_s": row.images_per_s,
                "eval_fraction": peak_fraction(eval_row, peaks) if eval_row else None,
            }
    return best


def _matching(rows: Iterable[Row], row: Row, kind: str) -> Row | None:
    return next((r for r in rows if r.kind == kind and r.framework == row.framework
                 and r.mode == row.mode and r.threads == row.threads
                 and r.batch_size == row.batch_size and r.image_size == row.image_size), None)


def loader_rates(rows: Iterable[Row], data_suite: Mapping[str, Any] | None) -> dict[str, float]:
    """Augmented-batch images/s of the shared loader, per env that measured it: each twin's
    suite, and the data-layer suite's augmented epoch when it ran."""
    rates = {f"{r.framework} env": r.images_per_s for r in rows
             if r.kind == "loader" and r.images_per_s}
    for bench in (data_suite or {}).get("benchmarks", []):
        frames = bench["extra_info"].get("frames")
        if bench["name"] == DATA_SUITE_LOADER and frames:
            rates["harness env (bench_data.py)"] = frames / bench["median_s"]
    return rates


def loader_over_train(loaders: Mapping[str, float], rows: Iterable[Row]) -> dict[str, Any] | None:
    """The slowest measurement of the loader over the fastest training case of any twin at the
    loader's input size: the loader has to keep up with the most demanding consumer of the
    images it makes (smaller inputs are cheaper to make too)."""
    rows = list(rows)
    sizes = {r.image_size for r in rows if r.kind == "loader"}
    trains = [r for r in rows if r.kind == "train" and r.images_per_s
              and (r.image_size in sizes or not sizes)]
    if not loaders or not trains:
        return None
    env = min(loaders, key=lambda k: loaders[k])
    fastest = max(trains, key=lambda r: r.images_per_s or 0.0)
    assert fastest.images_per_s
    return {
        "value": loaders[env] / fastest.images_per_s, "loader_images_per_s": loaders[env],
        "loader_env": env, "loaders": dict(loaders),
        "train_images_per_s": fastest.images_per_s, "train_case": _label(fastest),
    }


def end_to_end(rows: Iterable[Row]) -> dict[str, Any]:
    """Per framework: each pipeline's median seconds, the speedups of ours over the published
    approach (median of the per-round ratios: the pipelines ran in turn within each round), and
    two checks on them. `ceiling`: published time over its time inside train and eval steps,
    the most any input pipeline could gain. `speedup_same_compute`: the speedup with every
    pipeline's step time set to their mean, i.e. what the input pipelines alone change; a
    measured speedup far from it means the machine's load changed between pipelines."""
    out: dict[str, Any] = {}
    for row in rows:
        pipes = row.info.get("pipelines") if row.kind == "end_to_end" else None
        if not pipes or "published" not in pipes or "cached" not in pipes:
            continue
        published, cached = pipes["published"], pipes["cached"]
        entry: dict[str, Any] = {
            name: {"seconds": p["total_s"], **{k: v for k, v in p.items() if k != "total_s"}}
            for name, p in pipes.items()}
        entry["speedup"] = paired_ratio(published["rounds_s"], cached["rounds_s"])
        if "cached_prefetch" in pipes:
            entry["speedup_prefetch"] = paired_ratio(published["rounds_s"],
                                                     pipes["cached_prefetch"]["rounds_s"])
        entry["ceiling"] = published["total_s"] / published["compute_s"]
        compute = sum(p["compute_s"] for p in pipes.values()) / len(pipes)
        entry["speedup_same_compute"] = (
            (compute + published["total_s"] - published["compute_s"])
            / (compute + cached["total_s"] - cached["compute_s"]))
        out[row.framework] = entry
    if out:
        # geometric mean of the paired per-framework speedups: each framework ran in its own
        # process at its own time, so their seconds are not paired with each other
        speedups = [out[fw]["speedup"] for fw in out]
        out["overall"] = {
            "speedup": math.prod(speedups) ** (1 / len(speedups)),
            "published_s": sum(out[fw]["published"]["seconds"] for fw in out),
            "cached_s": sum(out[fw]["cached"]["seconds"] for fw in out),
        }
    return out


def paired_ratio(slow: list[float], fast: list[float]) -> float:
    """Median over rounds of slow/fast, each ratio from one round."""
    ratios = sorted(a / b for a, b in zip(slow, fast, strict=True))
    middle = len(ratios) // 2
    return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def matrix_records(matrix: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> list[Any]:
    """The records a matrix ran itself: started and finished inside its wall interval (a
    rerun's skipped cells keep older records, whose time its wall clock never saw)."""
    finished = parse_time(matrix["finished_at"])
    started = finished - timedelta(seconds=float(matrix["wall_s"]))
    slack = timedelta(seconds=CLOCK_SLACK_S)
    return [
        r for r in records
        if r.get("timing") and r.get("started_at") and r.get("finished_at")
        and parse_time(r["started_at"]) >= started - slack
        and parse_time(r["finished_at"]) <= finished + slack
    ]


def harness_overhead(
    matrix: Mapping[str, Any], records: Iterable[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """From a matrix summary (results/matrix.json) and the run records; None when the matrix
    ran no cell (every cell was already done, so its wall time timed nothing) or ran cells
    side by side (`--jobs` > 1: their summed times exceed the wall time they shared)."""
    wall = float(matrix["wall_s"])
    ran = matrix_records(matrix, records)
    if not ran or wall <= 0 or int(matrix.get("jobs", 1)) != 1:
        return None
    run_s = sum(float(r["timing"]["train_s"]) + float(r["timing"]["eval_s"]) for r in ran)
    subprocess_s = matrix.get("subprocess_s")
    return {
        "fraction": (wall - run_s) / wall, "wall_s": wall, "run_s": run_s, "runs": len(ran),
        "per_run_overhead_s": (wall - run_s) / len(ran),
        # split of the overhead: the harness process itself vs inside the runner processes
        # (interpreter start, framework import, data load, build, writing the record)
        "outside_runners_s": wall - subprocess_s if subprocess_s is not None else None,
        "inside_runners_s": subprocess_s - run_s if subprocess_s is not None else None,
        "profile": profile_of(str(matrix.get("command", ""))),
        "command": matrix.get("command"),
        # what the runs trained on: the overhead fraction shrinks as runs get longer
        "datasets": sorted({Path(str(r.get("data", {}).get("dataset", "?"))).name for r in ran}),
        "epochs_run": sum(len(r.get("history", [])) for r in ran),
    }


def profile_of(command: str) -> str:
    """The profile a `benchmarks compare` command ran ('quick' is compare's default)."""
    words = shlex.split(command)
    for i, word in enumerate(words):
        if word == "--profile" and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("--profile="):
            return word.split("=", 1)[1]
    return "quick"


def projected_overhead(per_run_overhead_s: float, step_s: float, eval_step_s: float,
                       n_train: int, n_val: int, batch_size: int, epochs: int) -> float:
    """The overhead fraction a run of `epochs` epochs would have if its fixed cost (process
    start, imports, data load, build) stayed `per_run_overhead_s`: a projection, not a
    measurement."""
    run_s = epochs * (math.ceil(n_train / batch_size) * step_s
                      + math.ceil(n_val / batch_size) * eval_step_s)
    return per_run_overhead_s / (per_run_overhead_s + run_s)


def records_data_wait(records: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The runners' own data-wait fractions (timing.data_wait_fraction)."""
    values = [float(r["timing"]["data_wait_fraction"]) for r in records
              if (r.get("timing") or {}).get("data_wait_fraction") is not None]
    if not values:
        return None
    values.sort()
    return {"runs": len(values), "median": values[len(values) // 2], "max": values[-1]}


def judge(target: Target, value: float | None) -> dict[str, Any]:
    """met / missed and the measured value relative to the threshold (value / threshold)."""
    result: dict[str, Any] = {**asdict(target), "value": value}
    if value is None:
        return {**result, "status": "not measured", "ratio": None}
    met = value >= target.threshold if target.higher_is_better else value < target.threshold
    return {**result, "status": "met" if met else "missed", "ratio": value / target.threshold}


def lookup(figures: Mapping[str, Any], key: str) -> float | None:
    """'a.b' -> figures['a']['b'], None where any part is missing."""
    value: Any = figures
    for part in key.split("."):
        if not isinstance(value, Mapping) or value.get(part) is None:
            return None
        value = value[part]
    return float(value)


def _label(row: Row) -> str:
    size = f" {row.image_size}px" if row.image_size else ""
    return f"{row.framework} {row.kind} {row.mode} b{row.batch_size}{size} {row.threads} thr"
