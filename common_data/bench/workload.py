"""The benchmark workloads, written once so both twins' suites time exactly the same things.

The reasoning is that of the `Twin` contract (common_data.run.twin): a speed comparison is
fair only if everything but the framework is one piece of code. So the batches, the twin's
construction (through the twins' own `make_twin` and `Twin.build`, i.e. what a run uses), the
end-to-end loops and the "published pipeline" emulation live here, and the cases are planned
in `common_data.bench.suite` from `workload.toml`; `pytorch_impl/bench.py` and
`tf_impl/bench.py` add only the framework's matmul, GPU probe and per-case peak GPU memory.

Everything timed returns only after the framework finished: `Twin.train_step` fetches the
loss as a float, `Twin.predict_logits` returns NumPy, and the matmul fetches one element.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from time import perf_counter
from typing import Any

import numpy as np

from common_data.bench.suite import (
    PIPELINES,
    Case,
    SuiteProfile,
    SuiteSelection,
    Unavailable,
    framework_modes,
    mode_precision,
    shared,
    unavailable_reason,
)
from common_data.data import cache as image_cache
from common_data.data.augment import augment_image
from common_data.data.batches import count_batches, epoch_order, iterate_batches
from common_data.data.cache import Images
from common_data.data.discovery import Dataset
from common_data.data.prefetch import prefetch
from common_data.data.preprocess import Preprocess
from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORKS
from common_data.model.init_weights import init_weights
from common_data.model.spec import Spec, load_spec
from common_data.run.config import RunConfig, load_run_config
from common_data.run.inputs import load_run_data, run_dataset, run_images
from common_data.run.timing import timed_steps
from common_data.run.twin import Twin

Batch = tuple[np.ndarray, np.ndarray]


def run_config(
    framework: str, mode: str, selection: SuiteSelection, batch_size: int, image_size: int
) -> RunConfig:
    """The run config of a benchmarked twin: the defaults plus the workload's settings, so a
    benchmarked mode is the mode a run with the same flags trains in."""
    common = shared()
    return load_run_config({
        "framework": framework, "variant": common["variant"], "data": selection.data,
        "seed": common["seed"], "split_seed": common["split_seed"], "spec": common["spec"],
        "image_size": image_size, "batch_size": batch_size, "device": "auto",
        "threads": selection.threads, "save_weights": False,
        "mode": framework_modes(framework)[mode],
    })


@dataclass
class BenchData:
    """The data every case of a suite reads, loaded once per process."""

    dataset: Dataset
    config: RunConfig  # the data settings of a run: dataset, input size, HUD mode, split
    images: Images
    train: np.ndarray
    val: np.ndarray
    spec: Spec

    def batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """The first augmented training batch a run would see: real loader output."""
        return next(iterate_batches(
            self.images.images, self.images.labels, self.train, batch_size=batch_size,
            seed=shared()["seed"], epoch=0, shuffle=True, augment=True,
        ))


@cache
def load_bench_data(profile: SuiteProfile, data: str, image_size: int) -> BenchData:
    """Decode (or load from the cache) and split the data as a run with these settings would;
    once per input size and process."""
    common = shared()
    config = load_run_config({"data": data, "image_size": image_size, "hud": "full",
                              "split": "random", "split_seed": common["split_seed"]})
    dataset = run_dataset(config)
    images, split = load_run_data(config, run_images(config, dataset))
    needed = max(profile.e2e_train_images, profile.loader_images, profile.large_batch)
    if len(split.train) < needed or len(split.val) < profile.e2e_val_images:
        raise ConfigError(
            f"--data {data!r}: {len(split.train)} training and {len(split.val)} validation "
            f"images, but profile {profile.name!r} needs {needed} and {profile.e2e_val_images}"
        )
    spec = load_spec(common["spec"], image_size=image_size, num_classes=len(images.classes))
    return BenchData(dataset, config, images, split.train, split.val, spec)


def build_twin(
    make_twin: Callable[[], Twin], framework: str, mode: str, selection: SuiteSelection,
    batch_size: int, spec: Spec,
) -> Twin:
    """Built exactly as `common_data.run.driver.execute` builds a run's twin."""
    config = run_config(framework, mode, selection, batch_size, spec.input_shape[0])
    twin = make_twin()
    twin.build(spec, init_weights(spec, config.seed), config)
    return twin


def measure(benchmark: Any, target: Callable[[], object], rounds: int, warmup_rounds: int,
            info: dict[str, Any]) -> None:
    """Time the first call apart (tracing, XLA, torch.compile happen there), then `rounds`
    timed calls with pytest-benchmark; `info` lands in the JSON's extra_info."""
    started = perf_counter()
    target()
    first = perf_counter() - started
    benchmark.pedantic(target, rounds=rounds, warmup_rounds=warmup_rounds, iterations=1)
    benchmark.extra_info.update(info, first_call_s=first)


def matmul_operands(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)


def matmul_info(framework: str, selection: SuiteSelection, n: int, device: str,
                precision: str = "sgemm") -> dict[str, Any]:
    """A matmul row: `sgemm` is the float32 product (the peak float32 modes are held to),
    `bf16` the bfloat16 one (the peak of modes that compute in bf16)."""
    return {"framework": framework, "kind": "matmul", "mode": precision,
            "threads": selection.threads,
            "size": n, "flops": 2 * n**3, "device": device,
            **process_info(framework, selection)}


def process_info(framework: str, selection: SuiteSelection) -> dict[str, Any]:
    """What every row of a suite process records about the process: its process-mode setting
    (under the mode's key) and the variable the framework actually saw (`<mode>_env`), so a
    row can be checked against what was asked."""
    fw = FRAMEWORKS[framework]
    if selection.process_mode is None or not fw.process_mode or not fw.process_env:
        return {}
    return {fw.process_mode: selection.process_mode,
            f"{fw.process_mode}_env": os.environ.get(fw.process_env)}


def run_case(
    benchmark: Any, case: Case, *, framework: str,
    make_twin: Callable[[], Twin], profile: SuiteProfile, selection: SuiteSelection, gpu: bool,
    info: dict[str, Any],
) -> None:
    """Every case but the matmul, which needs the framework's own tensors."""
    if case.mode in shared()["gpu_only_modes"] and not gpu:
        raise Unavailable(f"mode {case.mode!r} needs a GPU and none was found (CPU-only run)")
    reason = unavailable_reason(mode_precision(framework, case.mode), gpu)
    if reason:
        raise Unavailable(reason)
    bench = load_bench_data(profile, selection.data, case.image_size)
    info = {**info, **process_info(framework, selection), "framework": framework,
            "kind": case.kind, "mode": case.mode, "threads": selection.threads,
            "batch_size": case.batch_size,
            "image_size": case.image_size, "precision": mode_precision(framework, case.mode),
            "n_train": len(bench.train),
            "n_val": len(bench.val)}
    if case.kind == "loader":
        _run_loader(benchmark, bench, profile, info)
        return
    twin = build_twin(make_twin, framework, case.mode, selection, case.batch_size, bench.spec)
    environment = twin.environment()
    info.update(environment=environment, device=environment["device"])
    if case.kind == "end_to_end":
        _run_end_to_end(benchmark, bench, twin, case.batch_size, profile, info)
        return
    x, y = bench.batch(case.batch_size)
    training = case.kind == "train"
    info.update(images=case.batch_size, flops_per_image=bench.spec.flops_per_image(training))
    target = (lambda: twin.train_step(x, y)[0]) if training else (lambda: twin.predict_logits(x))
    measure(benchmark, target, profile.rounds, profile.warmup_rounds, info)


def _run_loader(
    benchmark: Any, bench: BenchData, profile: SuiteProfile, info: dict[str, Any]
) -> None:
    """Augmented batches as a training epoch draws them: the loader's hardest path."""
    indices = bench.train[: profile.loader_images]

    def epoch() -> int:
        return sum(len(y) for _, y in iterate_batches(
            bench.images.images, bench.images.labels, indices, batch_size=profile.batch_size,
            seed=shared()["seed"], epoch=0, shuffle=True, augment=True,
        ))

    info.update(images=len(indices), device="cpu")
    measure(benchmark, epoch, profile.loader_rounds, 0, info)


@dataclass
class EndToEnd:
    """One end-to-end round: wall time and where it went."""

    total_s: float = 0.0
    load_s: float = 0.0
    train_s: float = 0.0
    eval_s: float = 0.0
    wait_s: float = 0.0
    compute_s: float = 0.0
    steps: int = 0


def _run_end_to_end(benchmark: Any, bench: BenchData, twin: Twin, batch_size: int,
                    profile: SuiteProfile, info: dict[str, Any]) -> None:
    """Same twin, images, epochs and batches for every pipeline; only how pixels arrive
    differs. The pipelines take turns within each round, first place rotating, so a load
    change on a shared machine hits all of them alike instead of whichever ran last; the
    speedup is then taken round by round. The twin is warmed up first, so no pipeline pays
    for tracing. pytest-benchmark times whole rounds; the per-pipeline figures are in
    extra_info["pipelines"]."""
    x, y = bench.batch(batch_size)
    twin.train_step(x, y)
    twin.predict_logits(x)
    results: dict[str, list[EndToEnd]] = {p: [] for p in PIPELINES}
    order = list(PIPELINES)

    def round_robin() -> None:
        for pipeline in order:
            results[pipeline].append(end_to_end(twin, bench, pipeline, profile))
        order.append(order.pop(0))

    benchmark.pedantic(round_robin, rounds=profile.e2e_rounds, warmup_rounds=0, iterations=1)
    info.update(
        epochs=profile.e2e_epochs,
        images=profile.e2e_epochs * (profile.e2e_train_images + profile.e2e_val_images),
        pipelines={p: _summary(rounds) for p, rounds in results.items()},
    )
    benchmark.extra_info.update(info)


def _summary(rounds: list[EndToEnd]) -> dict[str, Any]:
    """Medians over rounds, every round's wall time (for paired ratios), and the data-wait
    fraction as common_data.run.timing.Timing computes it."""
    train_s = sum(r.train_s for r in rounds)
    summary: dict[str, Any] = {
        key: float(np.median([getattr(r, key) for r in rounds]))
        for key in ("total_s", "load_s", "train_s", "eval_s", "wait_s", "compute_s")
    }
    summary.update(rounds_s=[r.total_s for r in rounds], steps=rounds[0].steps,
                   data_wait_fraction=sum(r.wait_s for r in rounds) / train_s if train_s else None)
    return summary


def end_to_end(twin: Twin, bench: BenchData, pipeline: str, profile: SuiteProfile) -> EndToEnd:
    """Train `e2e_epochs` epochs and validate after each, timed by the training loop's own
    `timed_steps` (data wait = time inside the batch iterator). The cached pipelines include
    loading the decode cache, as every run does; dataset discovery is outside both, as both
    need it."""
    seed = shared()["seed"]
    train_idx = bench.train[: profile.e2e_train_images]
    val_idx = bench.val[: profile.e2e_val_images]
    out = EndToEnd()
    started = perf_counter()
    images = None if pipeline == "published" else run_images(bench.config, bench.dataset)
    out.load_s = perf_counter() - started

    def batches(indices: np.ndarray, epoch: int, train: bool) -> Iterator[Batch]:
        kwargs = dict(batch_size=profile.batch_size, seed=seed, epoch=epoch, shuffle=train,
                      augment=train)
        if images is None:
            return published_batches(bench.images.records, bench.images.labels, indices,
                                     bench.images.preprocess, **kwargs)
        shared_batches = iterate_batches(images.images, images.labels, indices, **kwargs)
        return prefetch(shared_batches) if pipeline == "cached_prefetch" else shared_batches

    for epoch in range(profile.e2e_epochs):
        phase = perf_counter()
        source = batches(train_idx, epoch, train=True)
        for _, _, waited, seconds in timed_steps(source, lambda batch: twin.train_step(*batch)):
            out.wait_s += waited
            out.compute_s += seconds
            out.steps += 1
        out.train_s += perf_counter() - phase
        phase = perf_counter()
        for x, _ in batches(val_idx, epoch, train=False):
            stepping = perf_counter()
            twin.predict_logits(x)
            out.compute_s += perf_counter() - stepping
        out.eval_s += perf_counter() - phase
    out.total_s = perf_counter() - started
    return out


def published_batches(
    records: list[Any], labels: np.ndarray, indices: np.ndarray, preprocess: Preprocess, *,
    batch_size: int, seed: int, epoch: int, shuffle: bool, augment: bool,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The published pipelines' approach: every sample read and decoded from disk on every
    step, in the training process. Decoding, resizing and augmenting use our functions, so
    the batches are byte-identical to `iterate_batches` and only the cost differs."""
    order = epoch_order(indices, seed, epoch, shuffle)
    for b in range(count_batches(len(order), batch_size)):
        chunk = order[b * batch_size : (b + 1) * batch_size]
        frames = []
        for i in chunk:
            frame = preprocess.apply(image_cache.decode_rgb(records[i].path.read_bytes())[0])
            frames.append(augment_image(frame, seed, epoch, int(i)) if augment else frame)
        yield np.stack(frames).astype(np.float32) / np.float32(255), labels[chunk].astype(np.int64)
