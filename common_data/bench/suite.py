"""The benchmark suites as data: which cases a suite process runs, on which thread counts and
process-mode settings, read from `workload.toml` (profiles, each framework's modes, the
settings shared by every case).

This is the plan of a suite; `common_data.bench.workload` times it. The harness reads the plan
too (to name and report the cases) without importing anything that trains.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORKS
from common_data.model.spec import load_spec
from common_data.run.cpu import bf16_cpu_problem
from common_data.toml_file import read_toml

WORKLOAD_PATH = Path(__file__).resolve().with_name("workload.toml")
SELECTION_ENV = "THERMAL_BENCH_PERF"
KINDS = ("matmul", "loader", "train", "eval", "end_to_end")
MATMUL_PRECISIONS = ("sgemm", "bf16")  # float32 always: the peak every float32 mode is held to
# published: decode every sample from disk on every step, in the training process (what both
# published notebooks did); cached: our decode cache + the shared batch iterator, as runs use
# it; cached_prefetch: the same batches produced one step ahead by common_data.data.prefetch.
PIPELINES = ("published", "cached", "cached_prefetch")


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
