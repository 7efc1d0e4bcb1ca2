"""Run-config validation: one strictly checked config that both twins read.

A misspelt key that silently falls back to a default would make two "identical" runs
differ, so every key is checked at every nesting level and values are normalised
(ints given for float settings become floats) before hashing; the harness uses the hash
to skip cells already run. Which spec file or dataset folder a config names is checked
where it is used (``load_spec``, ``resolve_data``), not here.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any

from common_data.data.faults import FAULTS
from common_data.errors import ConfigError
from common_data.frameworks import EXAMPLE_MODE, FRAMEWORKS, MODE_FRAMEWORK
from common_data.model.dropout import SOURCES as DROPOUT_SOURCES
from common_data.model.pretrained import TRANSFERS
from common_data.regimes import OVERLAYS, SPLITS, VARIANTS, has_folds
from common_data.run.cpu import bf16_cpu_problem

# Keys added after records were committed, with the value every earlier run implicitly had.
# The hash leaves a key out while it holds that value, so the stored runs keep their config
# hashes (and stay resumable) while a run with the new behaviour gets a new identity.
LEGACY_VALUES: dict[tuple[str, ...], Any] = {
    ("card",): "",
    ("card_sha256",): "",
    ("colour",): "rgb",
    ("dropout",): "framework",
    **{("mode", mode): False for fw in FRAMEWORKS.values() for mode in fw.late_modes},
    ("pretrained",): "",
    ("train_frames",): 0,
    ("train_palettes",): [],
    ("transfer",): "scratch",
}

# The keys that choose a run's training set (common_data/data/training_set.py): only the
# palette finding's runs set them, so a record holding one at another value than its legacy
# one is a palette run, and at its legacy value it reads as the runs made before the keys.
TRAINING_SET_KEYS = ("train_palettes", "train_frames", "colour")

DEFAULTS_PATH = Path(__file__).resolve().parent / "defaults" / "run.toml"

MONITORS = ("val_loss", "val_accuracy")
COLOURS = ("rgb", "luminance")


class _Check:
    """One value rule: ``convert`` returns the normalised value or None when invalid."""

    expected: str

    def convert(self, value: Any) -> Any:
        raise NotImplementedError


class _Int(_Check):
    def __init__(self, minimum: int) -> None:
        self.minimum = minimum
        self.expected = f"an integer >= {minimum}"

    def convert(self, value: Any) -> Any:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= self.minimum
        return value if ok else None


class _Float(_Check):
    def __init__(self, low: float, high: float | None = None, low_open: bool = False) -> None:
        self.low, self.high, self.low_open = low, high, low_open
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        self.expected = f"a number {bound}" + (f" and < {high:g}" if high is not None else "")

    def convert(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        value = float(value)
        if value != value or (value <= self.low if self.low_open else value < self.low):
            return None
        if self.high is not None and value >= self.high:
            return None
        return value


class _Bool(_Check):
    expected = "true or false"

    def convert(self, value: Any) -> Any:
        return value if isinstance(value, bool) else None


class _Str(_Check):
    expected = "a non-empty string"

    def convert(self, value: Any) -> Any:
        return value if isinstance(value, str) and value.strip() else None


class _OptionalPath(_Check):
    expected = 'a path to a file, or "" for none'

    def convert(self, value: Any) -> Any:
        return value if isinstance(value, str) else None


class _Digest(_Check):
    expected = 'a sha256 (64 lowercase hex digits), or "" for none'

    def convert(self, value: Any) -> Any:
        ok = isinstance(value, str) and (not value or re.fullmatch(r"[0-9a-f]{64}", value))
        return value if ok else None


class _Names(_Check):
    expected = "a list of distinct non-empty strings ([] for all)"

    def convert(self, value: Any) -> Any:
        """Sorted, so the same set of names is the same config whatever order it was given in."""
        if not isinstance(value, list | tuple) or not all(
                isinstance(v, str) and v.strip() for v in value) or len(set(value)) != len(value):
            return None
        return tuple(sorted(value))


class _Enum(_Check):
    """One of `choices`: a tuple, or a table of common_data.regimes, read at each check so the
    table stays the one list of what a run config may name."""

    def __init__(self, *choices: str, table: Mapping[str, object] | None = None) -> None:
        self._choices = choices
        self._table = table

    @property
    def choices(self) -> tuple[str, ...]:
        return self._choices if self._table is None else tuple(self._table)

    @property
    def expected(self) -> str:
        quoted = [repr(c) for c in self.choices]
        return f"{', '.join(quoted[:-1])} or {quoted[-1]}"

    def convert(self, value: Any) -> Any:
        return value if isinstance(value, str) and value in self.choices else None


def _key(check: _Check) -> Any:
    return field(metadata={"check": check})


@dataclass(frozen=True)
class Optimizer:
    """Adam with every setting explicit: torch and Keras defaults differ (eps 1e-8 vs 1e-7)."""

    lr: float = _key(_Float(0.0, low_open=True))
    beta_1: float = _key(_Float(0.0, 1.0))
    beta_2: float = _key(_Float(0.0, 1.0))
    epsilon: float = _key(_Float(0.0, low_open=True))


@dataclass(frozen=True)
class EarlyStopping:
    enabled: bool = _key(_Bool())
    monitor: str = _key(_Enum(*MONITORS))
    patience: int = _key(_Int(0))
    restore_best: bool = _key(_Bool())


@dataclass(frozen=True)
class ReduceOnPlateau:
    enabled: bool = _key(_Bool())
    monitor: str = _key(_Enum(*MONITORS))
    factor: float = _key(_Float(0.0, 1.0, low_open=True))
    patience: int = _key(_Int(0))
    min_lr: float = _key(_Float(0.0))


# Tuned modes every framework has; each framework's own are its row's `modes`
# (common_data.frameworks), so the [mode] table's keys are these and theirs, in name order.
SHARED_MODES = ("mixed_precision",)  # bf16: autocast in each twin's own way

Mode = make_dataclass(
    "Mode", [(name, bool, _key(_Bool())) for name in sorted({*SHARED_MODES, *MODE_FRAMEWORK})],
    frozen=True)
Mode.__doc__ = "The run's tuned modes (the [mode] table), each on or off."


@dataclass(frozen=True)
class RunConfig:
    """A validated run config; the field set is exactly the key set of defaults/run.toml."""

    framework: str = _key(_Enum(*FRAMEWORKS))
    variant: str = _key(_Enum(table=VARIANTS))
    data: str = _key(_Str())
    card: str = _key(_OptionalPath())
    card_sha256: str = _key(_Digest())
    split: str = _key(_Enum(table=SPLITS))
    fold: int = _key(_Int(-1))
    split_seed: int = _key(_Int(0))
    seed: int = _key(_Int(0))
    dropout: str = _key(_Enum(*DROPOUT_SOURCES))
    image_size: int = _key(_Int(1))
    hud: str = _key(_Enum(table=OVERLAYS))
    train_palettes: tuple[str, ...] = _key(_Names())
    train_frames: int = _key(_Int(0))
    colour: str = _key(_Enum(*COLOURS))
    spec: str = _key(_Str())
    epochs: int = _key(_Int(1))
    batch_size: int = _key(_Int(1))
    skip_bad: bool = _key(_Bool())
    save_weights: bool = _key(_Bool())
    device: str = _key(_Enum("auto", "cpu", "gpu"))
    threads: int = _key(_Int(1))
    inter_op_threads: int = _key(_Int(1))
    fault: str = _key(_Enum(*FAULTS))
    pretrained: str = _key(_OptionalPath())
    transfer: str = _key(_Enum(*TRANSFERS))
    optimizer: Optimizer = field(metadata={"section": Optimizer})
    early_stopping: EarlyStopping = field(metadata={"section": EarlyStopping})
    reduce_on_plateau: ReduceOnPlateau = field(metadata={"section": ReduceOnPlateau})
    mode: Mode = field(metadata={"section": Mode})

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, as JSON holds it (lists, not tuples);
        ``load_run_config(cfg.to_dict()) == cfg``."""
        return json.loads(json.dumps(asdict(self)))

    def hash(self) -> str:
        """The config's identity: see `config_digest`."""
        return config_digest(self.to_dict())


def config_digest(values: dict[str, Any]) -> str:
    """sha256 of a config dict's canonical JSON (sorted keys, no whitespace), leaving out
    the keys that hold their `LEGACY_VALUES` value (or are absent, in records made before
    the key existed)."""
    values = json.loads(json.dumps(values))
    for path, legacy in LEGACY_VALUES.items():
        *parents, key = path
        section = values
        for parent in parents:
            section = section.get(parent, {})
        if key in section and section[key] == legacy:
            del section[key]
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_run_config(source: Path | str | dict[str, Any]) -> RunConfig:
    """Merge a JSON/TOML file or a dict onto defaults/run.toml and validate it.

    Sections merge key by key, so ``{"optimizer": {"lr": 0.01}}`` keeps the other Adam
    settings.
    """
    if isinstance(source, dict):
        where, overrides = "run config <dict>", source
    else:
        where, overrides = f"run config {source}", _read(Path(source))
    merged = _merge(_read(DEFAULTS_PATH), overrides, where, prefix="")
    config = _build(RunConfig, merged, where, prefix="")
    _check_combinations(config, where)
    return config


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_mode_flags(items: list[str]) -> dict[str, bool]:
    """`--mode KEY=BOOL` flags (compare, finding, parity) as a config's [mode] table; which
    keys exist is checked when the config is loaded."""
    modes = {}
    for item in items:
        key, sep, value = item.partition("=")
        flag = value.strip().lower()
        if not sep or not key.strip():
            raise ConfigError(f"--mode {item!r}: expected KEY=true|false, e.g. {EXAMPLE_MODE}=true")
        if flag not in _TRUE + _FALSE:
            raise ConfigError(f"--mode {key.strip()} {value!r}: expected true or false")
        modes[key.strip()] = flag in _TRUE
    return modes


def _read(path: Path) -> dict[str, Any]:
    where = f"run config {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the file ({exc.strerror or exc})") from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise ConfigError(f"{where}: not valid {kind} ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object of settings, got {type(data).__name__}")
    return data


def _merge(
    base: dict[str, Any], overrides: dict[str, Any], where: str, prefix: str
) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        name = prefix + str(key)
        if key not in base:
            expected = ", ".join(base)
            raise ConfigError(f"{where}: unknown key {name!r} (expected one of: {expected})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{where}: key {name!r} must be a table of settings, got {value!r}"
                )
            merged[key] = _merge(base[key], value, where, prefix=f"{prefix}{key}.")
        else:
            merged[key] = value
    return merged


def _build(cls: type, values: dict[str, Any], where: str, prefix: str) -> Any:
    known = [f.name for f in fields(cls)]
    stray = [k for k in values if k not in known]
    if stray:
        raise ConfigError(
            f"{where}: the defaults file {DEFAULTS_PATH} sets {prefix + stray[0]!r}, "
            "which RunConfig lacks"
        )
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        name = prefix + f.name
        if f.name not in values:
            raise ConfigError(
                f"{where}: missing key {name!r} (the defaults file {DEFAULTS_PATH} must set it)"
            )
        value = values[f.name]
        if "section" in f.metadata:
            kwargs[f.name] = _build(f.metadata["section"], value, where, prefix=f"{name}.")
            continue
        check: _Check = f.metadata["check"]
        converted = check.convert(value)
        if converted is None:
            raise ConfigError(f"{where}: key {name!r} must be {check.expected}, got {value!r}")
        kwargs[f.name] = converted
    return cls(**kwargs)


def _check_combinations(config: RunConfig, where: str) -> None:
    """Rules across keys: a setting the chosen framework or device would ignore is an
    error, because the record would claim a mode that never ran."""
    if has_folds(config.split) and config.fold < 0:
        raise ConfigError(
            f"{where}: key 'fold' must be an integer >= 0 when split is {config.split!r}, "
            f"got {config.fold!r}"
        )
    if not has_folds(config.split) and config.fold != -1:
        folded = " or ".join(repr(key) for key in SPLITS if has_folds(key))
        raise ConfigError(
            f"{where}: key 'fold' must be -1 when split is {config.split!r} "
            f"(folds apply to {folded}), got {config.fold!r}"
        )
    for key, framework in MODE_FRAMEWORK.items():
        if getattr(config.mode, key) and config.framework != framework:
            raise ConfigError(
                f"{where}: key 'mode.{key}' applies to framework {framework!r} only, "
                f"got true with framework {config.framework!r}"
            )
    if (config.transfer == "scratch") != (config.pretrained == ""):
        raise ConfigError(
            f"{where}: keys 'transfer' and 'pretrained' go together: 'v1' or 'v2' with a "
            f"weights file (--pretrained FILE), 'scratch' without, got {config.transfer!r} and "
            f"{config.pretrained!r}"
        )
    # bf16 runs on a GPU or on a CPU with native bf16; with device 'auto' only the twin
    # knows which it got, so it repeats this check after picking the device
    if config.mode.mixed_precision and config.device == "cpu":
        problem = bf16_cpu_problem(where)
        if problem:
            raise ConfigError(problem)
