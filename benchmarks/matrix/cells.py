"""Expand a profile (TOML) plus command-line overrides into the cells of a run matrix.

A cell is one training run: framework x variant x seed x split (x fold) x HUD mode. Its run
config is validated by `common_data.run.config`, and the config's hash is the cell's identity,
which is what lets a rerun skip the cells that already have a record.
"""

import copy
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.matrix import mode_guard
from benchmarks.matrix.records import is_bf16
from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORKS
from common_data.regimes import OVERLAYS, SPLITS, VARIANTS, has_folds
from common_data.run.config import load_run_config

PROFILES_DIR = Path(__file__).resolve().parents[1] / "profiles"
_MATRIX_KEYS = {
    "description", "frameworks", "variants", "seeds", "splits", "hud", "run", "variant",
    "framework", "probe", "jobs", "precisions", "faithfulness_check",
}
# The optional `precisions` axis: each value's mode.mixed_precision, set on every cell.
PRECISIONS = {"float32": False, "bf16": True}
RUN_ID_HASH_CHARS = 10  # how much of the config hash ends a run id


@dataclass(frozen=True)
class Cell:
    framework: str
    variant: str
    seed: int
    split: str
    fold: int
    hud: str
    config: dict[str, Any]
    config_hash: str

    @property
    def bf16(self) -> bool:
        """Whether the cell trains in bf16 (a config made before the mode key did not)."""
        return is_bf16(self.config)

    @property
    def run_id(self) -> str:
        fold = f"-f{self.fold}" if has_folds(self.split) else ""
        size = self.config["image_size"]
        bf16 = "-bf16" if self.bf16 else ""
        return (
            f"{self.framework}-{self.variant}-{self.split}{fold}-{self.hud}-{size}px"
            f"-s{self.seed}{bf16}-{self.config_hash[:RUN_ID_HASH_CHARS]}"
        )

    @property
    def label(self) -> str:
        fold = f" fold {self.fold}" if has_folds(self.split) else ""
        bf16 = ", bf16" if self.bf16 else ""
        return (
            f"{self.framework} {self.variant} seed {self.seed} ({self.split}{fold}, "
            f"hud {self.hud}{bf16})"
        )


def load_matrix_profile(name_or_path: str) -> dict[str, Any]:
    """Read a profile by name (benchmarks/profiles/<name>.toml) or from a TOML path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.toml")))
        raise ConfigError(
            f"--profile {name_or_path!r}: no such profile or TOML file (known profiles: {known})"
        )
    try:
        profile = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"profile {path}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"profile {path}: not UTF-8 text (byte {exc.start}): expected a TOML file"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {path}: not valid TOML ({exc})") from None
    unknown = sorted(set(profile) - _MATRIX_KEYS)
    if unknown:
        raise ConfigError(
            f"profile {path}: unknown key {unknown[0]!r} (expected one of: "
            f"{', '.join(sorted(_MATRIX_KEYS))})"
        )
    _check_tables(profile, f"profile {path}")
    profile["path"] = str(path)
    if not profile.get("faithfulness_check"):
        mode_guard.refuse_unchecked(mode_guard.profile_choices(profile), f"profile {path}")
    return profile


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# The matrix axes: each a non-empty list, its items checked against the allowed values (the
# tables themselves, common_data/regimes.toml, so a regime is listed once).
AXES: dict[str, Collection[Any] | None] = {
    "frameworks": tuple(FRAMEWORKS),
    "variants": VARIANTS,
    "seeds": None,  # integers >= 0
    "splits": SPLITS,
    "hud": OVERLAYS,
}


def check_matrix(profile: dict[str, Any]) -> None:
    """Refuse a profile (after the flags are folded in) whose matrix is missing, empty or
    misspelt, naming the TOML key, before any cell is built."""
    where = f"profile {profile.get('path', '<flags>')}"
    for key, allowed in AXES.items():
        if key not in profile:
            example = "0" if allowed is None else repr(next(iter(allowed)))
            raise ConfigError(f"{where}: missing key {key!r} (expected a list, e.g. "
                              f"{key} = [{example}], or the --{key} flag)")
        items = profile[key]
        if not isinstance(items, list) or not items:
            raise ConfigError(f"{where}: key {key!r} must be a non-empty list, got {items!r} "
                              "(an empty matrix runs nothing)")
        for item in items:
            if items.count(item) > 1:
                raise ConfigError(f"{where}: key {key!r} lists {item!r} twice (each value "
                                  "makes its cells once)")
            ok = (isinstance(item, int) and not isinstance(item, bool) and item >= 0
                  if allowed is None else item in allowed)
            if not ok:
                expected = "integers >= 0" if allowed is None else ", ".join(allowed)
                raise ConfigError(f"{where}: key {key!r} has {item!r} (expected {expected})")
    precisions = profile.get("precisions", ["float32"])
    if (not isinstance(precisions, list) or not precisions
            or any(p not in PRECISIONS for p in precisions)):
        raise ConfigError(f"{where}: key 'precisions' must be a non-empty list of "
                          f"{', '.join(map(repr, PRECISIONS))}, got {precisions!r}")
    _check_tables(profile, where)


def _check_tables(profile: dict[str, Any], where: str) -> None:
    for key in ("run", "variant"):
        if not isinstance(profile.get(key, {}), dict):
            raise ConfigError(f"{where}: key {key!r} must be a table ([{key}]), "
                              f"got {profile[key]!r}")
    for name, table in profile.get("variant", {}).items():
        if name not in VARIANTS or not isinstance(table, dict):
            expected = " or ".join(f"[variant.{key}]" for key in VARIANTS)
            raise ConfigError(f"{where}: [variant.{name}] is not valid (expected tables "
                              f"{expected})")


def expand(profile: dict[str, Any], n_sessions: int | None = None) -> list[Cell]:
    """Return every cell of the profile's matrix, in a stable order: splits x HUD modes x
    variants x frameworks x precisions (where the profile has that axis) x seeds, then the
    probe's cells if the profile has a `probe` table (`{split, hud, variant}`: e.g. the
    HUD-only baseline, which needs no augmented twin).

    `n_sessions` is needed only for a split with folds (`loso`), which expands into one cell
    per held-out session.
    """
    check_matrix(profile)
    cells = []
    for split in profile["splits"]:
        if has_folds(split) and not n_sessions:
            raise ConfigError(f"split {split!r} needs a dataset with at least two capture "
                              "sessions")
        folds = range(n_sessions or 0) if has_folds(split) else [-1]
        for fold in folds:
            for hud in profile["hud"]:
                for variant in profile["variants"]:
                    for framework in profile["frameworks"]:
                        for precision in profile.get("precisions", [None]):
                            for seed in profile["seeds"]:
                                cells.append(_cell(profile, framework, variant, seed, split,
                                                   fold, hud, precision))
    probe = profile.get("probe")
    if probe:
        for framework in profile["frameworks"]:
            for seed in profile["seeds"]:
                cells.append(_cell(profile, framework, probe["variant"], seed, probe["split"],
                                   -1, probe["hud"]))
    return cells


def _cell(
    profile: dict[str, Any],
    framework: str,
    variant: str,
    seed: int,
    split: str,
    fold: int,
    hud: str,
    precision: str | None = None,
) -> Cell:
    # [variant.<name>] and [framework.<key>] refine [run]; per-framework tables carry the
    # tuned modes that exist in one framework only (e.g. [framework.<key>.mode] <mode> = true).
    raw = _deep_merge(profile.get("run", {}), profile.get("variant", {}).get(variant, {}))
    raw = _deep_merge(raw, profile.get("framework", {}).get(framework, {}))
    raw.update(framework=framework, variant=variant, seed=seed, split=split, fold=fold, hud=hud)
    if precision is not None:  # the `precisions` axis, over whatever the tables set
        raw["mode"] = {**raw.get("mode", {}), "mixed_precision": PRECISIONS[precision]}
    try:
        config = load_run_config(raw)
    except ConfigError as exc:  # name the profile the user wrote, not an internal dict
        where = f"profile {profile.get('path', '<flags>')} [run]"
        raise ConfigError(str(exc).replace("run config <dict>", where, 1)) from None
    return Cell(framework, variant, seed, split, fold, hud, config.to_dict(), config.hash())
