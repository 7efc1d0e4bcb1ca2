"""The frameworks this project compares, stated once.

Everything that differs per framework (the twin's package, its display name and colour, the
tox env whose python runs it, the tuned modes only it has, the roles it plays in the harness,
what its modes are called in a report) is one row of `FRAMEWORKS`; every other per-framework
table (runner modules, benchmark suites, parity probes, the run config's and the schema's
allowed values, the report's names, colours and columns) is derived from it, so adding a
framework is one row here plus its twin folder. Standard library only: the framework envs
and the harness all import it.

A row can also come from a TOML file named by THERMAL_BENCH_FRAMEWORKS (`[framework.<key>]`
tables with the fields below; a relative path is the project root's), read once at import,
so every process of one command (the harness and the twins it starts inherit the variable)
sees the same table. The tests use it to register a third twin that lives under tests/ and
prove that nothing else names the two.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

from common_data.errors import ConfigError

REGISTRY_ENV = "THERMAL_BENCH_FRAMEWORKS"
_ROOT = Path(__file__).resolve().parent.parent  # the project: twin folders are relative to it

# What a role means; each is held by exactly one row.
ROLES: dict[str, str] = {
    # every comparison of frameworks is `anchor − other` (the report's framework deltas, the
    # twins' answer, parity's twin-vs-twin figures, the trajectory pairs), and the trajectory
    # check's float32 floor is the anchor at two thread counts
    "anchor": "the framework every other one is compared against",
    # the GPU kit times this framework only (the GPU machine has no other installed)
    "gpu_kit": "the framework the GPU kit runs",
}


@dataclass(frozen=True)
class Framework:
    key: str                 # the run config's and the record's `framework` value
    package: str             # the twin's package (dotted), which mirrors the others file for file
    name: str                # how reports and figures name it
    colour: str              # its colour in every figure
    tox_env: str             # the tox env whose python runs it (`.tox/<env>/bin/python`)
    modes: tuple[str, ...]   # run-config `mode.*` keys only this framework has
    roles: tuple[str, ...] = ()  # keys of ROLES this framework holds
    # the mode a process fixes before the framework is imported, through an environment
    # variable the framework reads once (`process_env`, set to "1" or "0", never left unset
    # where the framework's own default depends on the CPU): the runner sets it from the run
    # config, the performance suites run one process per setting
    process_mode: str | None = None
    process_env: str | None = None
    # how reports name a mode of this framework (`onednn` -> its library's name); a mode
    # without an entry is shown by its key
    mode_labels: dict[str, str] = field(default_factory=dict)
    # modes added after run records were committed: a config hashes them only when on, so
    # the stored runs keep their config hashes (common_data.run.config.LEGACY_VALUES)
    late_modes: tuple[str, ...] = ()

    def module(self, entry: str) -> str:
        """The twin's module for an entry point: `run`, `parity`, `evaluate`, `bench`,
        `op_profile` or `defaults`."""
        return f"{self.package}.{entry}"

    @property
    def folder(self) -> str:
        """The twin's folder, relative to the project root."""
        return self.package.replace(".", "/")

    @property
    def bench_suite(self) -> str:
        """The twin's pytest-benchmark suite, relative to the project root."""
        return f"{self.folder}/bench.py"

    def mode_label(self, mode: str) -> str:
        return self.mode_labels.get(mode, mode)


_BUILT_IN = (
    Framework(key="torch", package="pytorch_impl", name="PyTorch", colour="#ee4c2c",
              tox_env="torch", modes=("channels_last", "compile"),
              roles=("anchor", "gpu_kit")),
    Framework(key="tf", package="tf_impl", name="TensorFlow", colour="#ff8f00",
              tox_env="tf", modes=("jit_compile", "onednn"), process_mode="onednn",
              process_env="TF_ENABLE_ONEDNN_OPTS",
              late_modes=("onednn",),
              mode_labels={"onednn": "oneDNN"}),
)

_FIELDS = {f.name: f for f in fields(Framework)}


def _row(where: str, key: str, table: Any) -> Framework:
    """One registered row, checked field by field with one-line errors."""
    if not (key.isidentifier() and key.islower()):
        raise ConfigError(f"{where}: framework key {key!r}: expected a lower-case identifier "
                          "(it names records, files and flags)")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [framework.{key}] must be a table")
    unknown = sorted(set(table) - set(_FIELDS) - {"key"})
    if unknown:
        raise ConfigError(f"{where}: [framework.{key}] has unknown key {unknown[0]!r} "
                          f"(expected {', '.join(n for n in _FIELDS if n != 'key')})")
    required = ("package", "name", "colour", "tox_env")
    missing = [name for name in required if name not in table]
    if missing:
        raise ConfigError(f"{where}: [framework.{key}] lacks key {missing[0]!r}")
    for name in required:
        if not isinstance(table[name], str) or not table[name]:
            raise ConfigError(f"{where}: [framework.{key}] key {name!r}: expected a "
                              f"non-empty string, got {table[name]!r}")
    roles = tuple(table.get("roles", ()))
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise ConfigError(f"{where}: [framework.{key}] role {bad[0]!r}: expected one of "
                          f"{', '.join(ROLES)}")
    return Framework(key=key, package=table["package"], name=table["name"],
                     colour=table["colour"], tox_env=table["tox_env"],
                     modes=tuple(table.get("modes", ())), roles=roles,
                     process_mode=table.get("process_mode"),
                     process_env=table.get("process_env"),
                     mode_labels=dict(table.get("mode_labels", {})),
                     late_modes=tuple(table.get("late_modes", ())))


def registered(path: Path) -> list[Framework]:
    """The rows a registration file adds, in file order."""
    where = f"{REGISTRY_ENV} {path}"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    tables = raw.get("framework")
    if set(raw) != {"framework"} or not isinstance(tables, dict):
        raise ConfigError(f"{where}: expected only [framework.<key>] tables")
    return [_row(where, key, table) for key, table in tables.items()]


def build_table(extra: list[Framework]) -> dict[str, Framework]:
    """The built-in rows and `extra`, checked: keys, modes and roles each held once."""
    table: dict[str, Framework] = {}
    for fw in (*_BUILT_IN, *extra):
        if fw.key in table:
            raise ConfigError(f"{REGISTRY_ENV}: framework {fw.key!r} is already registered")
        table[fw.key] = fw
    owners: dict[str, str] = {}
    for fw in table.values():
        for mode in fw.modes:
            if owners.setdefault(mode, fw.key) != fw.key:
                raise ConfigError(f"{REGISTRY_ENV}: mode {mode!r} of {fw.key!r} is already "
                                  f"{owners[mode]!r}'s")
        if fw.process_mode is not None and fw.process_mode not in fw.modes:
            raise ConfigError(f"{REGISTRY_ENV}: {fw.key!r} process_mode {fw.process_mode!r} "
                              "is not one of its modes")
    for role in ROLES:
        holders = [fw.key for fw in table.values() if role in fw.roles]
        if len(holders) != 1:
            raise ConfigError(f"{REGISTRY_ENV}: role {role!r} ({ROLES[role]}) is held by "
                              f"{len(holders)} frameworks, expected 1")
    return table


def _load() -> dict[str, Framework]:
    """The table; a relative registration path is the project root's, like the twins'
    packages, so the harness and the twins it starts (run from the root) read one file."""
    path = os.environ.get(REGISTRY_ENV)
    return build_table(registered(_ROOT / path) if path else [])


FRAMEWORKS: dict[str, Framework] = _load()

FRAMEWORK_NAMES: dict[str, str] = {key: fw.name for key, fw in FRAMEWORKS.items()}

# Tuned modes that exist in one framework only; a config naming one for the other is refused.
MODE_FRAMEWORK: dict[str, str] = {
    mode: key for key, fw in FRAMEWORKS.items() for mode in fw.modes
}


def holder(role: str) -> str:
    """The key of the framework that holds `role` (one of ROLES)."""
    return next(key for key, fw in FRAMEWORKS.items() if role in fw.roles)


ANCHOR: str = holder("anchor")
GPU_KIT: str = holder("gpu_kit")

# a framework's own mode, for the examples of help texts and errors
EXAMPLE_MODE: str = next(reversed(MODE_FRAMEWORK), "mixed_precision")

# (anchor, other) for every other framework, in table order: what is differenced.
FRAMEWORK_PAIRS: tuple[tuple[str, str], ...] = tuple(
    (ANCHOR, key) for key in FRAMEWORKS if key != ANCHOR)


def notes(framework: str, section: str) -> dict[str, str]:
    """One table of the twin folder's notes.toml: how the reports describe this framework
    where it differs from the others (sentence parts that report code joins with the other
    twins'); empty where the twin has none."""
    return dict(_notes(framework).get(section, {}))


def notes_part(section: str, key: str) -> list[str]:
    """Every framework's note `key` of `section`, in table order (those that have one)."""
    return [text for fw in FRAMEWORKS if (text := notes(fw, section).get(key))]


@cache
def _notes(framework: str) -> dict[str, Any]:
    path = _ROOT / FRAMEWORKS[framework].folder / "notes.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable notes file ({exc})") from None


def pair_label(a: str, b: str, sep: str = " − ") -> str:
    """'PyTorch − TensorFlow': how reports name a pair's difference."""
    return f"{FRAMEWORK_NAMES[a]}{sep}{FRAMEWORK_NAMES[b]}"
