"""The dataset card: what one dataset is, declared as data instead of assumed in code.

A card is a small TOML file, `dataset.toml` in the dataset folder or `--card FILE`. It says
which classes exist and which folder names mean them, where capture sessions come from (a
file-name pattern with its time format, a CSV manifest, or none), which regions of every frame
are a burned-in overlay (named boxes in pixels of a stated frame size, applied as fractions at
any resolution, or none), and which published figures were measured on exactly this content.

Cards of the datasets this project knows ship in `common_data/data/cards/` and are found by
content hash, so the real dataset needs no file of ours in its (read-only) folder. Every
mistake in a card is one line naming the key and what was expected: a misread card would
silently change the classes, the split or the masked pixels of every run built on it.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common_data.data.preprocess import HudBox
from common_data.errors import ConfigError
from common_data.toml_file import read_toml

CARD_NAME = "dataset.toml"
SHIPPED_CARDS = Path(__file__).resolve().parent / "cards"
SESSION_SOURCES = ("filename", "manifest", "none")
OVERLAY_SOURCES = ("boxes", "none")
DEFAULT_BURST_GAP_S = 90.0
_HEX64 = re.compile(r"[0-9a-f]{64}")

_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # section: (required keys, optional keys)
    "": (("dataset", "classes", "sessions", "overlay"), ("published",)),
    "dataset": (("name",), ("content_hash", "note")),
    "classes": (("names",), ("aliases",)),
    "sessions": (("source",), ("pattern", "time_format", "burst_gap_s", "manifest")),
    "overlay": (("source",), ("frame_width", "frame_height", "box")),
    "overlay.box": (("name", "rows", "columns"), ("keep_in_hud_only",)),
    "published": (("source", "row"), ()),
    "published.row": (("framework", "model", "spec", "variant", "accuracy"),
                      ("profile", "transfer", "params", "params_note")),
}


@dataclass(frozen=True)
class Sessions:
    """Where a frame's capture session (and time) comes from."""

    source: str = "none"
    pattern: str = ""  # regex; its groups, joined, are parsed with `time_format`
    time_format: str = ""
    burst_gap_s: float = DEFAULT_BURST_GAP_S
    manifest: Path | None = None  # CSV: file,session[,subject]


@dataclass(frozen=True)
class DatasetCard:
    """A validated card; `path` is where it was read from (shown by describe)."""

    name: str
    classes: tuple[str, ...]
    aliases: dict[str, str] = field(default_factory=dict)
    sessions: Sessions = field(default_factory=Sessions)
    overlay: tuple[HudBox, ...] = ()
    overlay_frame: str = ""  # "HEIGHTxWIDTH" the boxes were stated for, as describe prints
    content_hash: str = ""
    published: dict[str, Any] | None = None
    path: Path | None = None

    def class_of(self, folder: str) -> str | None:
        """The class a folder name means (case and surrounding blanks ignored), or None."""
        key = folder.strip().lower()
        if key in self.aliases:
            return self.aliases[key]
        return key if key in self.classes else None


def suggested_card(name: str, classes: tuple[str, ...], sessions: Sessions,
                   overlay_table: str) -> str:
    """A card a user can save as dataset.toml and edit: what describe inferred without one."""
    quoted = ", ".join(json.dumps(c) for c in classes)
    lines = ["# Inferred by `python -m common_data describe`: check it, edit it, save it as",
             "# dataset.toml in the dataset folder.", "", "[dataset]",
             f"name = {json.dumps(name)}", "", "[classes]",
             "# the model's outputs, in this order; map other folder names in [classes.aliases]",
             f"names = [{quoted}]", "", "[sessions]"]
    if sessions.source == "filename":
        lines += ['source = "filename"', f"pattern = '{sessions.pattern}'",
                  f"time_format = {json.dumps(sessions.time_format)}",
                  f"burst_gap_s = {sessions.burst_gap_s:g}"]
    else:
        lines += ['source = "none"  # or "manifest" with manifest = "sessions.csv" '
                  "(file,session[,subject])"]
    return "\n".join(lines) + "\n\n" + overlay_table


def load_card(path: str | Path, where: str | None = None) -> DatasetCard:
    """Read and validate one card file; `where` names it in errors (default: its path)."""
    source = Path(path).expanduser()
    where = where or f"card {source}"
    return parse_card(read_toml(source, where), where, base=source.parent, path=source)


def parse_card(raw: dict[str, Any], where: str, base: Path | None = None,
               path: Path | None = None) -> DatasetCard:
    """Validate a card's parsed TOML; relative manifest paths resolve against `base`."""
    _check_keys(raw, "", where)
    dataset = _table(raw, "dataset", where)
    _check_keys(dataset, "dataset", where)
    name = _str(dataset, "name", "dataset", where)
    content_hash = dataset.get("content_hash", "")
    if not isinstance(content_hash, str) or (content_hash and not _HEX64.fullmatch(content_hash)):
        raise ConfigError(f"{where}: 'dataset.content_hash' must be 64 lowercase hex digits "
                          f"(describe prints it), got {content_hash!r}")
    classes, aliases = _classes(_table(raw, "classes", where), where)
    sessions = _sessions(_table(raw, "sessions", where), where, base)
    overlay, overlay_frame = _overlay(_table(raw, "overlay", where), where)
    published = None
    if "published" in raw:
        if not content_hash:
            raise ConfigError(f"{where}: [published] figures need 'dataset.content_hash': "
                              "expected the hash of the dataset they were measured on")
        published = _published(_table(raw, "published", where), where)
    return DatasetCard(name=name, classes=classes, aliases=aliases, sessions=sessions,
                       overlay=overlay, overlay_frame=overlay_frame, content_hash=content_hash,
                       published=published, path=path)


def shipped_cards() -> list[DatasetCard]:
    """The cards this project ships, each found later by its content hash."""
    return [load_card(path, where=f"shipped card {path.name}")
            for path in sorted(SHIPPED_CARDS.glob("*.toml"))]


def read_manifest_csv(path: Path, where: str) -> dict[str, tuple[str, str]]:
    """file (dataset-relative, '/'-separated) -> (session, subject) from a card's manifest."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = set(reader.fieldnames or ())
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read manifest {path} ({exc.strerror or exc})") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: manifest {path} is not valid CSV ({exc})") from None
    if not {"file", "session"} <= columns:
        raise ConfigError(f"{where}: manifest {path} has columns {sorted(columns)}: expected a "
                          "header with 'file' and 'session' (and optionally 'subject')")
    out: dict[str, tuple[str, str]] = {}
    for n, row in enumerate(rows, start=2):
        file, session = (row.get("file") or "").strip(), (row.get("session") or "").strip()
        if not file or not session:
            raise ConfigError(f"{where}: manifest {path} line {n}: expected a file and a session")
        out[file.replace("\\", "/")] = (session, (row.get("subject") or "").strip())
    return out


def _check_keys(table: dict[str, Any], section: str, where: str) -> None:
    required, optional = _KEYS[section]
    prefix = f"{section}." if section else ""
    for key in table:
        if key not in required + optional:
            raise ConfigError(f"{where}: unknown key '{prefix}{key}': expected one of "
                              f"{', '.join(required + optional)}")
    for key in required:
        if key not in table:
            raise ConfigError(f"{where}: missing key '{prefix}{key}'")


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw[key]
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' must be a table ([{key}]), got {value!r}")
    return value


def _str(table: dict[str, Any], key: str, section: str, where: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: '{section}.{key}' must be a non-empty string, got {value!r}")
    return value


def _classes(table: dict[str, Any], where: str) -> tuple[tuple[str, ...], dict[str, str]]:
    _check_keys(table, "classes", where)
    names = table["names"]
    if (not isinstance(names, list) or len(names) < 2
            or not all(isinstance(n, str) and n.strip() for n in names)):
        raise ConfigError(f"{where}: 'classes.names' must be a list of at least two class "
                          f"names, got {names!r}")
    classes = tuple(n.strip().lower() for n in names)
    if len(set(classes)) != len(classes):
        raise ConfigError(f"{where}: 'classes.names' lists a class twice: {names!r}")
    aliases_raw = table.get("aliases", {})
    if not isinstance(aliases_raw, dict):
        raise ConfigError(f"{where}: 'classes.aliases' must be a table of folder = \"class\", "
                          f"got {aliases_raw!r}")
    aliases: dict[str, str] = {}
    for folder, target in aliases_raw.items():
        label = target.strip().lower() if isinstance(target, str) else None
        if label not in classes:
            raise ConfigError(f"{where}: alias 'classes.aliases.{folder}' = {target!r} names no "
                              f"class: expected one of {', '.join(classes)}")
        aliases[folder.strip().lower()] = label
    return classes, aliases


def _sessions(table: dict[str, Any], where: str, base: Path | None) -> Sessions:
    _check_keys(table, "sessions", where)
    source = table["source"]
    if source not in SESSION_SOURCES:
        raise ConfigError(f"{where}: 'sessions.source' = {source!r}: expected one of "
                          f"{', '.join(SESSION_SOURCES)}")
    needs = {"filename": ("pattern", "time_format"), "manifest": ("manifest",), "none": ()}
    for key in needs[source]:
        if key not in table:
            raise ConfigError(f"{where}: missing key 'sessions.{key}' (needed by source "
                              f"{source!r})")
    gap = table.get("burst_gap_s", DEFAULT_BURST_GAP_S)
    if isinstance(gap, bool) or not isinstance(gap, int | float) or not gap > 0:
        raise ConfigError(f"{where}: 'sessions.burst_gap_s' must be a number > 0, got {gap!r}")
    if source == "filename":
        pattern = _str(table, "pattern", "sessions", where)
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            raise ConfigError(f"{where}: 'sessions.pattern' is not a valid regular expression "
                              f"({exc})") from None
        if groups < 1:
            raise ConfigError(f"{where}: 'sessions.pattern' must capture the time in groups, "
                              f"got {pattern!r}")
        return Sessions("filename", pattern, _str(table, "time_format", "sessions", where),
                        float(gap))
    if source == "manifest":
        manifest = Path(_str(table, "manifest", "sessions", where)).expanduser()
        if not manifest.is_absolute() and base is not None:
            manifest = base / manifest
        return Sessions("manifest", burst_gap_s=float(gap), manifest=manifest)
    return Sessions("none", burst_gap_s=float(gap))


def _int_pair(value: Any, limit: int, key: str, where: str) -> tuple[int, int]:
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
          and 0 <= value[0] < value[1] <= limit)
    if not ok:
        raise ConfigError(f"{where}: '{key}' must be [start, end] pixels with "
                          f"0 <= start < end <= {limit}, got {value!r}")
    return value[0], value[1]


def _overlay(table: dict[str, Any], where: str) -> tuple[tuple[HudBox, ...], str]:
    """Boxes in pixels of the stated frame become fractions, so they apply at any size."""
    _check_keys(table, "overlay", where)
    source = table["source"]
    if source not in OVERLAY_SOURCES:
        raise ConfigError(f"{where}: 'overlay.source' = {source!r}: expected one of "
                          f"{', '.join(OVERLAY_SOURCES)}")
    if source == "none":
        stray = sorted(set(table) - {"source"})
        if stray:
            raise ConfigError(f"{where}: 'overlay.{stray[0]}' given but 'overlay.source' is "
                              "\"none\": expected no boxes")
        return (), ""
    size = {}
    for key in ("frame_width", "frame_height", "box"):
        if key not in table:
            raise ConfigError(f"{where}: missing key 'overlay.{key}' (needed by source 'boxes')")
    for key in ("frame_width", "frame_height"):
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{where}: 'overlay.{key}' must be an integer >= 1, got {value!r}")
        size[key] = value
    boxes = table["box"]
    if not isinstance(boxes, list) or not boxes or not all(isinstance(b, dict) for b in boxes):
        raise ConfigError(f"{where}: 'overlay.box' must be one or more [[overlay.box]] tables")
    out = []
    for box in boxes:
        _check_keys(box, "overlay.box", where)
        name = _str(box, "name", "overlay.box", where)
        r0, r1 = _int_pair(box["rows"], size["frame_height"], f"overlay.box {name}.rows", where)
        c0, c1 = _int_pair(box["columns"], size["frame_width"], f"overlay.box {name}.columns",
                           where)
        keep = box.get("keep_in_hud_only", True)
        if not isinstance(keep, bool):
            raise ConfigError(f"{where}: 'overlay.box {name}.keep_in_hud_only' must be true or "
                              f"false, got {keep!r}")
        height, width = size["frame_height"], size["frame_width"]
        out.append(HudBox(name, r0 / height, r1 / height, c0 / width, c1 / width, keep))
    return tuple(out), f"{size['frame_height']}x{size['frame_width']}"


def _published(table: dict[str, Any], where: str) -> dict[str, Any]:
    _check_keys(table, "published", where)
    _str(table, "source", "published", where)
    rows = table["row"]
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ConfigError(f"{where}: 'published.row' must be one or more [[published.row]] "
                          "tables")
    for n, row in enumerate(rows):
        _check_keys(row, "published.row", where)
        for key in ("framework", "model", "spec", "variant"):
            _str(row, key, f"published.row[{n}]", where)
        accuracy = row["accuracy"]
        if isinstance(accuracy, bool) or not isinstance(accuracy, float) \
                or not 0.0 <= accuracy <= 1.0:
            raise ConfigError(f"{where}: 'published.row[{n}].accuracy' must be a fraction in "
                              f"0..1, got {accuracy!r}")
    return table
