"""The regimes a run trains under, read once from `regimes.toml`: split kinds, overlay (HUD)
modes and variants.

Each table is a dict from key to row, in the file's order. Readers keep the dict itself, not a
copy of its keys, and look rows up when they check a value or write a label, so the file is the
one place a regime is listed: the run config's allowed values, the CLIs' choices, the matrix's
axes, the report's labels and the findings' sentences all follow it. Standard library only: the
framework envs and the harness both import it.
"""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from common_data.errors import ConfigError

REGIMES_PATH = Path(__file__).resolve().with_suffix(".toml")


@dataclass(frozen=True)
class SplitKind:
    """A `[split.KEY]` row; regimes.toml says what each fact means."""

    key: str
    about: str
    published: bool = False
    sessions: bool = False
    folds: bool = False
    leakage_safe: bool = False
    stand_in: str = ""


@dataclass(frozen=True)
class OverlayMode:
    """An `[overlay.KEY]` row (the run config's `hud` value)."""

    key: str
    name: str
    overlay: bool = False
    face: bool = True
    clause: str = ""


@dataclass(frozen=True)
class Variant:
    """A `[variant.KEY]` row."""

    key: str
    augment: bool = False
    reference: bool = False


def _rows(raw: dict[str, Any], table: str, row: type) -> dict[str, Any]:
    """One table's rows, each checked against its dataclass: a misspelt fact would otherwise
    fall back to its default and silently change a regime."""
    keys = {f.name: f for f in fields(row) if f.name != "key"}
    out = {}
    for key, values in raw.get(table, {}).items():
        where = f"{REGIMES_PATH} [{table}.{key}]"
        unknown = sorted(set(values) - set(keys))
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (expected one of: "
                             f"{', '.join(keys)})")
        missing = [name for name, f in keys.items()
                   if name not in values and f.default is MISSING]
        if missing:
            raise ConfigError(f"{where}: missing key {missing[0]!r}")
        out[key] = row(key=key, **values)
    if not out:
        raise ConfigError(f"{REGIMES_PATH}: expected at least one [{table}.KEY] table")
    return out


_RAW = tomllib.loads(REGIMES_PATH.read_text(encoding="utf-8"))
SPLITS: dict[str, SplitKind] = _rows(_RAW, "split", SplitKind)
OVERLAYS: dict[str, OverlayMode] = _rows(_RAW, "overlay", OverlayMode)
VARIANTS: dict[str, Variant] = _rows(_RAW, "variant", Variant)


def choices(table: dict[str, Any]) -> str:
    """A table's keys as an error message or help text lists them: 'random, session, ...'."""
    return ", ".join(table)


def full_frame() -> str:
    """The overlay mode that needs no overlay: every frame as captured (run config default)."""
    return next(key for key, mode in OVERLAYS.items() if not mode.overlay)


def face_blanked() -> str:
    """The overlay mode that blanks the face: the HUD-only probe's."""
    return next(key for key, mode in OVERLAYS.items() if not mode.face)


def reference_variant() -> str:
    """The variant a finding compares the others against when it names no reference."""
    return next(key for key, variant in VARIANTS.items() if variant.reference)


def has_folds(split: str) -> bool:
    """Whether a split runs one cell per held-out session (a run config with `fold` >= 0)."""
    return SPLITS[split].folds


def needs_sessions(splits: list[str] | tuple[str, ...]) -> bool:
    """Whether any of the splits needs the dataset's capture sessions to be counted."""
    return any(SPLITS[split].sessions for split in splits)


def leakage_safe() -> tuple[str, ...]:
    """The splits that keep near-copies apart, in the order the summary prefers them."""
    return tuple(key for key, kind in SPLITS.items() if kind.leakage_safe)


def regime_label(split: str, hud: str) -> str:
    """A regime in a reader's words: 'random', 'session', 'random, HUD only', ..."""
    mode = OVERLAYS[hud]
    return split if not mode.overlay else f"{split}, {mode.name}"


def regime_order(split: str, hud: str) -> tuple[bool, bool]:
    """Sort key that puts the published split first and, within a split, the full frame."""
    return not SPLITS[split].published, OVERLAYS[hud].overlay
