"""The benchmark workloads, written once so both twins' suites time exactly the same things.

The reasoning is that of the `Twin` contract (common_data.run.twin): a speed comparison is
fair only if everything but the framework is one piece of code. So the cases, the batches,
the twin's construction (through the twins' own `make_twin` and `Twin.build`, i.e. what a
run uses), the end-to-end loops and the "published pipeline" emulation live here;
`pytorch_impl/bench.py` and `tf_impl/bench.py` add only the framework's matmul, GPU probe and
per-case peak GPU memory.
Cases come from `workload.toml`.

Everything timed returns only after the framework finished: `Twin.train_step` fetches the
loss as a float, `Twin.predict_logits` returns NumPy, and the matmul fetches one element.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

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
from common_data.run.cpu import bf16_cpu_problem
from common_data.run.inputs import load_run_data, run_dataset, run_images
from common_data.run.timing import timed_steps
from common_data.run.twin import Twin
from common_data.toml_file import read_toml

WORKLOAD_PATH = Path(__file__).resolve().with_name("workload.toml")
SELECTION_ENV = "THERMAL_BENCH_PERF"
KINDS = ("matmul", "loader", "train", "eval", "end_to_end")
MATMUL_PRECISIONS = ("sgemm", "bf16")  # float32 always: the peak every float32 mode is held to
# published: decode every sample from disk on every step, in the training process (what both
# published notebooks did); cached: our decode cache + the shared batch iterator, as runs use
# it; cached_prefetch: the same batches produced one step ahead by common_data.data.prefetch.
PIPELINES = ("published", "cached", "cached_prefetch")
Batch = tuple[np.ndarray, np.ndarray]


class Unavailable(Exception):
    """A case this machine cannot run (a GPU-only mode without a GPU, bf16 on a CPU without
    it); the suite skips it with the reason."""


@dataclass(frozen=True)
class SuiteProfile:
    """One benchmark suite: a `[suite.<name>]` table of workload.toml, or a TOML file of its
    keys (`performance --suite FILE.toml`); workload.toml says what each key controls."""

    name: str
    image_sizes: tuple[int, ...]
    batch_size: int
    large_batch: int
    threads: tuple[int, ...]
    modes: tuple[str, ...]
    large_batch_modes: tuple[str, ...]
    other_threads_modes: tuple[str, ...]
    other_sizes_modes: tuple[str, ...]
    rounds: int
    warmup_rounds: int
    matmul_size: int
    matmul_rounds: int
    matmul_precisions: tuple[str, ...]  # "sgemm" (float32: the peak of float32 modes), "bf16"
    loader_images: int
    loader_rounds: int
    e2e_train_images: int
    e2e_val_images: int
    e2e_epochs: int
    e2e_rounds: int
    profile_steps: int
    verdict_epochs: int

    @property
    def image_size(self) -> int:
        """The primary input size: everything but the extra training steps runs at it, and the
        peak-fraction targets are judged at it."""
        return self.image_sizes[0]


@dataclass(frozen=True)
class SuiteSelection:
    """What one suite process runs. The harness passes it in one environment variable because
    pytest owns the command line of the suites. `process_mode` is the setting of the
    framework's process mode (its row's `process_mode`; None for a framework without one):
    the framework reads it once, at import, so it is a process, like a thread count, and
    `to_env` sets the framework's variable explicitly either way."""

    profile: str
    threads: int
    data: str = "synthetic"
    process_mode: bool | None = None

    def to_env(self, framework: str) -> dict[str, str]:
        env = {SELECTION_ENV: json.dumps(asdict(self))}
        variable = FRAMEWORKS[framework].process_env
        if self.process_mode is not None and variable:
            env[variable] = "1" if self.process_mode else "0"
        return env

    def name(self, framework: str) -> str:
        """The suite's file stem under results/performance: `<key>-t2`, and with the process
        mode on, `<key>-t2-<process mode>`."""
        mode = FRAMEWORKS[framework].process_mode
        return f"{framework}-t{self.threads}" + (f"-{mode}" if self.process_mode else "")

    def check_process_env(self, framework: str) -> None:
        """Refuse to time a suite whose process mode was left to the framework's own,
        CPU-dependent default: its figures would describe the machine, not the recorded mode."""
        fw = FRAMEWORKS[framework]
        if self.process_mode is None or not fw.process_env:
            return
        expected = "1" if self.process_mode else "0"
        actual = os.environ.get(fw.process_env)
        if actual != expected:
            raise ConfigError(
                f"{fw.process_env}={actual!r}: expected {expected!r} for a suite process with "
                f"{fw.process_mode}={str(self.process_mode).lower()} (set it explicitly; "
                f"{fw.name}'s default depends on the CPU)"
            )

    @classmethod
    def from_env(cls, framework: str) -> SuiteSelection:
        """The harness's selection, or the quick profile's primary process when a suite is run
        by hand (the process mode off where the framework has one)."""
        raw = os.environ.get(SELECTION_ENV)
        if not raw:
            setting = False if FRAMEWORKS[framework].process_mode else None
            return cls(profile="quick", threads=load_suite_profile("quick").threads[0],
                       process_mode=setting)
        try:
            return cls(**json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{SELECTION_ENV}={raw!r}: expected JSON like "
                '{"profile": "quick", "threads": 2, "data": "synthetic", "process_mode": false}'
            ) from exc

    def primary(self, profile: SuiteProfile) -> bool:
        """The process that also runs the loader, the large batch and end to end: the first
        thread count, with the process mode at its off (out-of-the-box) setting."""
        return self.threads == profile.threads[0] and not self.process_mode


@dataclass(frozen=True)
class Case:
    """One benchmark; its string is the pytest id and the row's name in the report."""

    kind: str
    mode: str = "default"
    batch_size: int = 0
    image_size: int = 0

    def __str__(self) -> str:
        if self.kind in ("train", "eval"):
            return f"{self.kind}-{self.mode}-b{self.batch_size}-{self.image_size}px"
        if self.kind in ("loader", "end_to_end"):
            return f"{self.kind}-b{self.batch_size}"
        return self.kind if self.mode in ("default", "sgemm") else f"{self.kind}-{self.mode}"


@cache
def _workload() -> dict[str, Any]:
    return tomllib.loads(WORKLOAD_PATH.read_text(encoding="utf-8"))


def suite_names() -> tuple[str, ...]:
    """The suites of workload.toml, in its order."""
    return tuple(_workload()["suite"])


def shared() -> dict[str, Any]:
    return dict(_workload()["shared"])


def gpu_seed_study() -> dict[str, Any]:
    """The GPU seed study's settings (`[gpu_seed_study]`), read by the GPU kit and report."""
    return dict(_workload()["gpu_seed_study"])


def framework_modes(framework: str) -> dict[str, dict[str, bool]]:
    """Mode name -> the run config's [mode] table, for one framework."""
    return dict(_workload()["modes"][framework])


def load_suite_profile(name: str) -> SuiteProfile:
    """`performance --suite NAME_OR_FILE`: a `[suite.NAME]` table of workload.toml, or a TOML
    file whose top-level keys are one suite's (its path is then the suite's name, which the
    suite processes load it by). Unknown and missing keys are one line each."""
    suites = _workload()["suite"]
    if name.endswith(".toml"):
        where = f"suite {name}"
        raw = read_toml(Path(name), where)
    elif name in suites:
        where = f"{WORKLOAD_PATH} [suite.{name}]"
        raw = suites[name]
    else:
        raise ConfigError(f"--suite {name!r}: no such suite in {WORKLOAD_PATH} or TOML file "
                          f"(known suites: {', '.join(suites)})")
    keys = [f.name for f in fields(SuiteProfile) if f.name != "name"]
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (expected one of: "
                          f"{', '.join(keys)})")
    missing = [k for k in keys if k not in raw]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r} (a suite sets every one of: "
                          f"{', '.join(keys)})")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    profile = SuiteProfile(name=name, **values)
    if not profile.image_sizes or not all(isinstance(v, int) and v > 0
                                          for v in profile.image_sizes):
        raise ConfigError(
            f"{where}: image_sizes={raw['image_sizes']!r}: expected a "
            "non-empty list of positive integers, the primary size first"
        )
    bad = [p for p in profile.matmul_precisions if p not in MATMUL_PRECISIONS]
    if bad or "sgemm" not in profile.matmul_precisions:
        raise ConfigError(
            f"{where}: matmul_precisions={raw['matmul_precisions']!r}:"
            f" expected \"sgemm\" and optionally any of {', '.join(MATMUL_PRECISIONS[1:])}"
        )
    for size in profile.image_sizes:  # a size the network cannot take fails here, not mid-suite
        load_spec(shared()["spec"], image_size=size)
    for key in ("e2e_train_images", "e2e_val_images", "loader_images"):
        if getattr(profile, key) % profile.batch_size:
            raise ConfigError(
                f"{where}: {key}={getattr(profile, key)} must be a "
                f"multiple of batch_size={profile.batch_size} (a partial batch is a new shape)"
            )
    return profile


def mode_precision(framework: str, mode: str) -> str:
    """The matmul precision a mode computes in, whose peak its steps are held to: "bf16" for
    a mode with mixed_precision, "sgemm" (float32) for the others and for a mode this
    workload no longer lists."""
    table = framework_modes(framework).get(mode, {})
    return "bf16" if table.get("mixed_precision") else "sgemm"


def unavailable_reason(precision: str, gpu: bool) -> str | None:
    """Why a bf16 case (a matmul or a step) cannot run here, None where it can: bf16 needs a
    GPU or a CPU with native bf16 (common_data.run.cpu)."""
    if precision != "bf16" or gpu:
        return None
    return bf16_cpu_problem("no GPU")


def mode_process_setting(framework: str, mode: str) -> bool | None:
    """The process-mode setting a benchmarked mode needs (None: the framework has no
    process mode)."""
    process_mode = FRAMEWORKS[framework].process_mode
    if process_mode is None:
        return None
    return bool(framework_modes(framework)[mode].get(process_mode, False))


def process_fields(framework: str, info: Mapping[str, Any]) -> dict[str, Any]:
    """A suite row's process-mode fields as `process_info` wrote them (the setting under the
    mode's key, the variable seen under `<mode>_env`), for the figures that carry them on."""
    process_mode = FRAMEWORKS[framework].process_mode
    if process_mode is None:
        return {}
    return {process_mode: info.get(process_mode), f"{process_mode}_env":
            info.get(f"{process_mode}_env")}


def process_setting(framework: str, row: Mapping[str, Any]) -> bool | None:
    """A stored row's process-mode setting (stored under the mode's own key); None for a
    framework without a process mode, or a row from before the setting was recorded."""
    process_mode = FRAMEWORKS[framework].process_mode
    return None if process_mode is None else row.get(process_mode)


def cases(framework: str, profile: SuiteProfile, selection: SuiteSelection) -> list[Case]:
    """Every case of one suite process, in run order. Cases this machine cannot run (GPU-only
    modes, bf16 without a GPU or a bf16 CPU) are listed and skipped, so the report can say
    they were not run and why. A process runs only
    the modes of its process-mode setting; the extra input sizes time training steps only."""
    primary = selection.primary(profile)
    known = framework_modes(framework)
    modes = [m for m in profile.modes if m in known
             and mode_process_setting(framework, m) == selection.process_mode]
    if selection.threads != profile.threads[0]:
        modes = [m for m in modes if m in profile.other_threads_modes]
    size = profile.image_size
    out = [Case("matmul", precision) for precision in profile.matmul_precisions]
    if primary:
        out.append(Case("loader", batch_size=profile.batch_size, image_size=size))
    for mode in modes:
        batches = [profile.batch_size]
        if primary and mode in profile.large_batch_modes:
            batches.append(profile.large_batch)
        for batch in batches:
            out += [Case("train", mode, batch, size), Case("eval", mode, batch, size)]
    for other in profile.image_sizes[1:]:
        out += [Case("train", mode, profile.batch_size, other) for mode in modes
                if mode in profile.other_sizes_modes]
    if primary:
        out.append(Case("end_to_end", batch_size=profile.batch_size, image_size=size))
    return out


def suite_selections(framework: str, profile: SuiteProfile, data: str) -> list[SuiteSelection]:
    """The suite processes of one framework: one per thread count and, for a framework with a
    process mode, per setting of it that some mode of the profile needs at that thread
    count."""
    out = []
    for threads in profile.threads:
        settings = sorted({mode_process_setting(framework, m) for m in profile.modes
                           if m in framework_modes(framework)}, key=bool)
        for setting in settings or [None]:
            selection = SuiteSelection(profile.name, threads, data, setting)
            if selection.primary(profile) or any(
                    c.kind == "train" for c in cases(framework, profile, selection)):
                out.append(selection)
    return out


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
