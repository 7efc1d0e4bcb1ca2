"""A finding file (`benchmarks/findings/*.toml`), checked: a claim is data, not code.

A finding declares its claim and source, two or more **arms** (each a named set of run-config
overrides: the variant, and any key of the run config), the **comparisons** between arms (which
arm against which, the direction the claim predicts and the smallest change that counts), the
matrix (frameworks, seeds, split.hud regimes, an optional probe), its **protocols** (input
size and schedules the matrix can run under, and any run-config overrides every arm takes
under that protocol, such as the palette finding's common training-set size) and the
published numbers. A user writes a new
finding without touching code; anything the file gets wrong is one line naming the file, the
key and what was expected, before a run starts.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from benchmarks.findings.protocol import published_protocol
from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORKS
from common_data.regimes import OVERLAYS, SPLITS, VARIANTS, choices, reference_variant
from common_data.run.config import RunConfig, load_run_config
from common_data.toml_file import read_toml

FINDINGS_DIR = Path(__file__).resolve().parent
DIRECTIONS = ("decrease", "increase")
# Run-config keys an arm may not override: the matrix and the protocol own them, so an arm
# that set them would silently leave the grid it is compared in.
MATRIX_OWNED = frozenset({"framework", "seed", "split", "hud", "data", "fold"})
_TOP = {"id": str, "claim": str, "source": str, "arm": list, "comparison": list,
        "matrix": dict, "protocol": dict}
_OPTIONAL = {"published": dict, "baseline_tolerance": float, "effect_tolerance": float,
             "expected": dict, "expected_probe": dict, "default_protocol": str}
_EXPECTED = {"verdict": str, "reference_accuracy": float, "delta": float}
VERDICTS = ("reproduced", "not reproduced", "reversed")   # what benchmarks.findings.verdicts says
_EXPECTED_PROBE = {"seeds": list, "accuracy": list}
_ARM = {"name": str, "variant": str, "run": dict}
_COMPARISON = {"arm": str, "against": str, "direction": str, "min_effect": float, "effect": str}
_MATRIX = {"frameworks": list, "seeds": list, "regimes": list, "probe": dict}
_PROTOCOL_KEYS = {"published": bool, "image_size": int, "epochs": int, "augmented_epochs": int,
                  "early_stopping": bool, "threads": int, "dropout": str, "framework": dict,
                  "regimes": list, "run": dict}
_PROBE = {"split": str, "hud": str, "variant": str}
_PROTOCOL_REQUIRED = ("image_size", "epochs", "augmented_epochs", "early_stopping")


@dataclass(frozen=True)
class Arm:
    name: str
    variant: str
    run: dict[str, Any]


@dataclass(frozen=True)
class Comparison:
    arm: str
    against: str
    direction: str
    min_effect: float
    effect: str = ""    # what the comparison changes, in words ("geometric augmentation")

    @property
    def key(self) -> str:
        return f"{self.arm}-vs-{self.against}"


def _type_name(kind: type) -> str:
    return {str: "a string", list: "a list", dict: "a table", float: "a number",
            int: "an integer", bool: "true or false"}[kind]


def _check_table(table: Any, schema: dict[str, type], where: str,
                 required: tuple[str, ...] | None = None) -> None:
    """Unknown keys, missing keys and wrong types, each as one line naming `where`."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(table) - set(schema))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (expected one of "
                          f"{', '.join(schema)})")
    for key in schema if required is None else required:
        if key not in table:
            raise ConfigError(f"{where}: missing key {key!r}")
    for key, value in table.items():
        kind = schema[key]
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              if kind is float else isinstance(value, kind)
              and not (kind is int and isinstance(value, bool)))
        if not ok:
            raise ConfigError(f"{where}: key {key!r} is {value!r}, expected {_type_name(kind)}")


def _arm_keys() -> set[str]:
    return {f.name for f in fields(RunConfig)} - MATRIX_OWNED - {"variant"}


def check_run_overrides(run: dict[str, Any], at: str, what: str = "run") -> None:
    """Run-config overrides of an arm (or of a protocol, for every arm): only keys an arm may
    set, each with a value the run config accepts, so a typo fails before a run starts."""
    config_keys = _arm_keys()
    unknown = sorted(set(run) - config_keys)
    if unknown:
        raise ConfigError(f"{at}: {what} key {unknown[0]!r} is not a run-config key an arm "
                          f"may set (expected one of {', '.join(sorted(config_keys))})")
    try:  # modes are per framework; the cells check them with the framework they run in
        load_run_config({key: value for key, value in run.items() if key != "mode"})
    except ConfigError as exc:
        raise ConfigError(f"{at}: {what}: {exc}") from None


def _arms(raw: list[Any], where: str) -> list[Arm]:
    arms = []
    for i, item in enumerate(raw):
        at = f"{where} [[arm]] #{i + 1}"
        _check_table(item, _ARM, at, required=("name",))
        at = f"{where} arm {item['name']!r}"
        variant = item.get("variant", reference_variant())
        if variant not in VARIANTS:
            raise ConfigError(f"{at}: variant {variant!r}, expected one of {choices(VARIANTS)}")
        check_run_overrides(item.get("run", {}), at)
        arms.append(Arm(item["name"], variant, dict(item.get("run", {}))))
    names = [a.name for a in arms]
    if len(arms) < 2 or len(set(names)) != len(names):
        raise ConfigError(f"{where}: expected two or more [[arm]] tables with distinct names, "
                          f"got {names}")
    return arms


def _comparisons(raw: list[Any], arms: list[Arm], where: str) -> list[Comparison]:
    names = [a.name for a in arms]
    out = []
    for i, item in enumerate(raw):
        at = f"{where} [[comparison]] #{i + 1}"
        _check_table(item, _COMPARISON, at, required=("arm", "against", "direction",
                                                     "min_effect"))
        for key in ("arm", "against"):
            if item[key] not in names:
                raise ConfigError(f"{at}: {key} {item[key]!r} names no arm (arms: "
                                  f"{', '.join(names)})")
        if item["direction"] not in DIRECTIONS:
            raise ConfigError(f"{at}: direction {item['direction']!r}, expected one of "
                              f"{', '.join(DIRECTIONS)}")
        if not 0 < item["min_effect"] < 1:
            raise ConfigError(f"{at}: min_effect {item['min_effect']!r}, expected an accuracy "
                              "change between 0 and 1")
        if item["arm"] == item["against"]:
            raise ConfigError(f"{at}: arm and against are both {item['arm']!r}")
        out.append(Comparison(item["arm"], item["against"], item["direction"],
                              float(item["min_effect"]), item.get("effect", "")))
    if not out:
        raise ConfigError(f"{where}: expected at least one [[comparison]]")
    return out


def resolve_protocol(protocol: dict[str, Any], where: str) -> dict[str, Any]:
    """A protocol with `published = true` takes the published protocol's input size, epochs,
    augmented schedule, threads, dropout source and tuned modes
    (benchmarks/profiles/paper.toml) for every key it does not set itself, so those numbers
    are written once and the finding's 128-px cells are the paper matrix's very runs."""
    _check_table(protocol, _PROTOCOL_KEYS, where, required=())
    check_regimes(protocol.get("regimes", []), where)
    check_run_overrides(protocol.get("run", {}), where)
    own = {key: value for key, value in protocol.items() if key != "published"}
    if not protocol.get("published"):
        missing = [key for key in _PROTOCOL_REQUIRED if key not in own]
        if missing:
            raise ConfigError(f"{where}: missing key {missing[0]!r} (or set published = true)")
        return own
    paper = published_protocol()
    return {"image_size": paper.image_size, "epochs": paper.baseline_epochs,
            "augmented_epochs": paper.augmented_epochs, "early_stopping": True,
            "threads": paper.threads, "dropout": paper.dropout, "framework": paper.framework,
            **own}


def _matrix(raw: dict[str, Any], where: str) -> dict[str, Any]:
    _check_table(raw, _MATRIX, f"{where} [matrix]", required=("frameworks", "seeds", "regimes"))
    unknown = [f for f in raw["frameworks"] if f not in FRAMEWORKS]
    if unknown:
        raise ConfigError(f"{where} [matrix]: framework {unknown[0]!r}, expected one of "
                          f"{', '.join(FRAMEWORKS)}")
    check_regimes(raw["regimes"], f"{where} [matrix]")
    if "probe" in raw:
        at = f"{where} [matrix] probe"
        _check_table(raw["probe"], _PROBE, at)
        for key, table in (("split", SPLITS), ("hud", OVERLAYS), ("variant", VARIANTS)):
            if raw["probe"][key] not in table:
                raise ConfigError(f"{at}: {key} {raw['probe'][key]!r}, expected one of "
                                  f"{choices(table)}")
    return raw


def check_regimes(regimes: list[Any], where: str) -> None:
    """Each regime is 'split.hud', both rows of common_data/regimes.toml."""
    for regime in regimes:
        split, _, hud = regime.partition(".") if isinstance(regime, str) else ("", "", "")
        if split not in SPLITS or hud not in OVERLAYS:
            raise ConfigError(f"{where}: regime {regime!r}, expected 'split.hud' with a split "
                              f"of {choices(SPLITS)} and a hud of {choices(OVERLAYS)}")


def load_finding_file(path: Path) -> dict[str, Any]:
    """The finding, checked, with its protocols resolved and its arms and comparisons parsed
    (`finding["arms"]`, `finding["comparisons"]`); `[profile.*]`, the old spelling of
    `[protocol.*]`, still loads, with a deprecation line."""
    where = f"finding {path}"
    raw = read_toml(path, where)
    if "profile" in raw and "protocol" not in raw:
        print(f"warning: {where}: [profile.*] is deprecated, name the tables [protocol.*]",
              file=sys.stderr)
        raw["protocol"] = raw.pop("profile")
    _check_table(raw, {**_TOP, **_OPTIONAL}, where, required=tuple(_TOP))
    arms = _arms(raw["arm"], where)
    comparisons = _comparisons(raw["comparison"], arms, where)
    finding = dict(raw)
    finding["matrix"] = _matrix(raw["matrix"], where)
    finding["arms"], finding["comparisons"] = arms, comparisons
    finding["protocol"] = {name: resolve_protocol(p, f"{where} [protocol.{name}]")
                           for name, p in raw["protocol"].items()}
    if not finding["protocol"]:
        raise ConfigError(f"{where}: expected at least one [protocol.NAME] table")
    finding.setdefault("default_protocol", next(iter(finding["protocol"])))
    if finding["default_protocol"] not in finding["protocol"]:
        raise ConfigError(f"{where}: default_protocol {finding['default_protocol']!r} names no "
                          f"[protocol.*] table (expected one of {', '.join(finding['protocol'])})")
    _recorded(raw, where)
    finding.setdefault("published", {})
    finding.setdefault("baseline_tolerance", 0.08)
    finding.setdefault("effect_tolerance", 0.0)
    return finding


def _recorded(raw: dict[str, Any], where: str) -> None:
    """[expected.PROTOCOL."DATASET"] verdicts and [expected_probe.PROTOCOL."DATASET"] probe
    accuracies: each entry a table of known keys and sound values, so a stale or mistyped
    record is one line before a run starts, not an error or a silent skip after it."""
    for key in ("baseline_tolerance", "effect_tolerance"):
        if raw.get(key, 0) < 0:
            raise ConfigError(f"{where}: {key} {raw[key]!r}, expected a number >= 0")
    for table, schema, required in (("expected", _EXPECTED, ("verdict", "reference_accuracy")),
                                    ("expected_probe", _EXPECTED_PROBE, ("seeds", "accuracy"))):
        for protocol, datasets in raw.get(table, {}).items():
            at = f"{where} [{table}.{protocol}]"
            if protocol not in raw["protocol"]:
                raise ConfigError(f"{at}: names no [protocol.*] table (expected one of "
                                  f"{', '.join(raw['protocol'])})")
            _check_table(datasets, {name: dict for name in datasets}, at)
            for dataset, entries in datasets.items():
                _check_table(entries, {name: dict for name in entries}, f'{at[:-1]}."{dataset}"]')
                for key, entry in entries.items():
                    entry_at = f'{at[:-1]}."{dataset}"] {key}'
                    _check_table(entry, schema, entry_at, required)
                    _check_entry(entry, entry_at)


def _check_entry(entry: dict[str, Any], at: str) -> None:
    if "verdict" in entry and entry["verdict"] not in VERDICTS:
        raise ConfigError(f"{at}: verdict {entry['verdict']!r}, expected one of "
                          f"{', '.join(VERDICTS)}")
    seeds, accuracy = entry.get("seeds"), entry.get("accuracy", entry.get("reference_accuracy"))
    accuracies = accuracy if isinstance(accuracy, list) else [accuracy]
    if not all(isinstance(a, (int, float)) and not isinstance(a, bool) and 0 <= a <= 1
               for a in accuracies):
        raise ConfigError(f"{at}: accuracy {accuracy!r}, expected accuracies between 0 and 1")
    if seeds is not None and (
            len(seeds) != len(accuracies) or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise ConfigError(f"{at}: seeds {seeds!r}, expected distinct integer seeds, one per "
                          f"accuracy ({len(accuracies)})")
