"""Find the images of a dataset folder, label them, and fingerprint every file.

Two layouts are recognised: `<emotion>/<palette>/<image>` ('nested', the real set) and
`<emotion>/<image>` ('flat'). Anything else is refused with a one-line DataError rather than
guessed at, because a silently misread folder would poison every number built on it.
Folders that map to no class are counted in `unknown_folders` and shown by `describe`; an empty
class or palette folder is an error, not a skip: training on four of five classes while the
model still has five outputs is a mistake a user must fix, not discover in a confusion matrix.

Classes, folder aliases and sessions come from the dataset card (`common_data.data.card`):
`--card FILE`, else `dataset.toml` in the folder, else a shipped card whose content hash matches
the folder's labelled content. Without any card every class folder is a class of its own name,
and sessions come from the first known file-name pattern (`session_patterns.toml`) that
matches, or there are none. Frames of one (session, class, palette) whose capture times are
less than the card's burst gap apart form a burst of near-copies.

The folder walk lives in `folder_scan`, the sha256 of each file in `hash_index`; this module
turns what they find into labelled, time-stamped records.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from common_data.data.card import (
    CARD_NAME,
    DatasetCard,
    Sessions,
    load_card,
    read_manifest_csv,
    shipped_cards,
)
from common_data.data.folder_scan import (
    EXPECTED_LAYOUT,
    Found,
    class_folders,
    scan_class_folders,
)
from common_data.data.hash_index import hash_files
from common_data.errors import DataError

SESSION_PATTERNS = Path(__file__).resolve().parent / "session_patterns.toml"


@dataclass(frozen=True)
class Record:
    """One image file; `rel_path` is '/'-separated so it is stable across machines."""

    path: Path
    rel_path: str
    label: str
    folder: str
    palette: str | None
    captured_at: datetime | None
    session: str
    burst: str
    sha256: str


@dataclass
class Dataset:
    """The files of one dataset folder; `bad_files` is filled by the decode step (skip_bad).

    `classes` is the model's output order; `card` is None where nothing declared the dataset
    (classes are then its folder names, sessions whatever a known file-name pattern gives)."""

    root: Path
    layout: str
    records: list[Record]
    classes: tuple[str, ...] = ()
    card: DatasetCard | None = None
    sessions: Sessions = field(default_factory=Sessions)
    unknown_folders: dict[str, int] = field(default_factory=dict)
    bad_files: list[dict] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)

    def hash(self) -> str:
        """Identity of the labelled content: rel_path, label and sha256 of every record."""
        digest = hashlib.sha256()
        for record in self.records:
            digest.update(f"{record.rel_path}\t{record.label}\t{record.sha256}\n".encode())
        return digest.hexdigest()


def discover(
    root: str | os.PathLike,
    aliases: dict[str, str] | None = None,
    burst_gap_s: float | None = None,
    cache_dir: str | os.PathLike | None = None,
    card: DatasetCard | None = None,
) -> Dataset:
    """Scan `root`, label every image through its card (or its folder names), hash and
    time-stamp it. `aliases` (folder -> class) extend the card's; `burst_gap_s` overrides it."""
    if burst_gap_s is not None and not burst_gap_s > 0:
        raise DataError(f"burst_gap_s={burst_gap_s!r} is not valid: expected a number > 0")
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"data folder {root} does not exist: {EXPECTED_LAYOUT}")
    if not root.is_dir():
        raise DataError(f"data path {root} is a file: {EXPECTED_LAYOUT}")
    root = root.resolve()
    if card is None and (root / CARD_NAME).is_file():
        card = load_card(root / CARD_NAME)

    class_dirs, unknown_folders, ignored = class_folders(root, _mapper(card, aliases))
    layout, found = scan_class_folders(root, class_dirs, ignored)
    hashes = hash_files(root, found, cache_dir)
    if card is None:
        card = _shipped_card(found, hashes)
        if card is not None:  # the shipped card may leave some folders unmapped
            class_dirs, unknown_folders, ignored = class_folders(root, _mapper(card, aliases))
            layout, found = scan_class_folders(root, class_dirs, ignored)
    sessions = card.sessions if card is not None else _known_sessions(found)
    if burst_gap_s is not None:
        sessions = replace(sessions, burst_gap_s=float(burst_gap_s))
    records = _make_records(found, class_dirs, hashes, sessions)
    labels = sorted(set(class_dirs.values()))
    classes = card.classes if card is not None else tuple(labels)
    classes += tuple(c for c in labels if c not in classes)  # alias targets beyond the card
    return Dataset(
        root=root,
        layout=layout,
        records=records,
        classes=classes,
        card=card,
        sessions=sessions,
        unknown_folders=unknown_folders,
        ignored_files=sorted(ignored),
    )


def _mapper(card: DatasetCard | None,
            aliases: dict[str, str] | None) -> Callable[[str], str | None]:
    """folder name -> class or None: user aliases first, then the card, else the name itself."""
    extra = {k.strip().lower(): v.strip().lower() for k, v in (aliases or {}).items()}

    def class_of(folder: str) -> str | None:
        key = folder.strip().lower()
        if key in extra:
            return extra[key]
        return card.class_of(folder) if card is not None else key

    return class_of


def _labelled_hash(found: list[Found], hashes: dict[str, str], card: DatasetCard) -> str | None:
    """`Dataset.hash` of `found` as `card` would label it, or None where it leaves a folder
    without a class (then it cannot be that card's dataset)."""
    digest = hashlib.sha256()
    for item in sorted(found, key=lambda f: f.rel_path):
        label = card.class_of(item.folder)
        if label is None:
            return None
        digest.update(f"{item.rel_path}\t{label}\t{hashes[item.rel_path]}\n".encode())
    return digest.hexdigest()


def _shipped_card(found: list[Found], hashes: dict[str, str]) -> DatasetCard | None:
    """The shipped card whose content hash is this folder's labelled content, if any."""
    for card in shipped_cards():
        if card.content_hash and _labelled_hash(found, hashes, card) == card.content_hash:
            return card
    return None


def _known_sessions(found: list[Found]) -> Sessions:
    """Sessions from the first known file-name pattern that matches any file, else none."""
    raw = tomllib.loads(SESSION_PATTERNS.read_text(encoding="utf-8"))
    for entry in raw["pattern"]:
        sessions = Sessions("filename", entry["pattern"], entry["time_format"])
        if any(_parse_time(os.path.basename(f.rel_path), sessions) for f in found):
            return sessions
    return Sessions("none")


def _parse_time(name: str, sessions: Sessions) -> datetime | None:
    """The capture time the card's pattern finds in a file name, or None."""
    if sessions.source != "filename":
        return None
    match = re.search(sessions.pattern, name)
    if match is None:
        return None
    try:
        return datetime.strptime("".join(g or "" for g in match.groups()), sessions.time_format)
    except ValueError:
        return None


def _session_of(found: list[Found], sessions: Sessions) -> dict[str, tuple[datetime | None,
                                                                             str, str]]:
    """rel_path -> (capture time, session, subject) from the card's session source."""
    if sessions.source == "manifest":
        assert sessions.manifest is not None
        table = read_manifest_csv(sessions.manifest, f"manifest of {sessions.manifest.parent}")
        return {f.rel_path: (None, *table.get(f.rel_path, ("unknown", ""))) for f in found}
    out = {}
    for item in found:
        when = _parse_time(os.path.basename(item.rel_path), sessions)
        out[item.rel_path] = (when, when.date().isoformat() if when else "unknown", "")
    return out


def _make_records(
    found: list[Found], class_dirs: dict[str, str], hashes: dict[str, str], sessions: Sessions
) -> list[Record]:
    """Attach label, capture time, session and burst; bursts split where gaps reach the limit.

    A manifest's subject column makes (session, subject, class, palette) one burst; frames with
    neither a time nor a subject are each their own burst."""
    meta = _session_of(found, sessions)
    groups: dict[tuple, list[Found]] = defaultdict(list)
    for item in found:
        _, session, subject = meta[item.rel_path]
        groups[(session, subject, class_dirs[item.folder], item.palette)].append(item)

    bursts: dict[str, str] = {}
    for (session, subject, label, palette), items in groups.items():
        prefix = f"{session}/{label}/{palette if palette is not None else '-'}"
        if subject:
            for item in items:
                bursts[item.rel_path] = f"{prefix}/{subject}"
            continue
        if any(meta[f.rel_path][0] is None for f in items):
            # Without a capture time nothing ties frames together: each is its own burst.
            for n, item in enumerate(sorted(items, key=lambda f: f.rel_path)):
                bursts[item.rel_path] = f"{prefix}/{n}"
            continue
        ordered = sorted(items, key=lambda f: (meta[f.rel_path][0], f.rel_path))
        n = 0
        for prev, item in zip([None, *ordered[:-1]], ordered, strict=True):
            if prev is not None:
                gap = (meta[item.rel_path][0] - meta[prev.rel_path][0]).total_seconds()
                n += gap >= sessions.burst_gap_s
            bursts[item.rel_path] = f"{prefix}/{n}"

    records = []
    for item in sorted(found, key=lambda f: f.rel_path):
        when, session, _ = meta[item.rel_path]
        records.append(
            Record(
                path=item.path,
                rel_path=item.rel_path,
                label=class_dirs[item.folder],
                folder=item.folder,
                palette=item.palette,
                captured_at=when,
                session=session,
                burst=bursts[item.rel_path],
                sha256=hashes[item.rel_path],
            )
        )
    return records


def summarize(records: list[Record], classes: tuple[str, ...]) -> dict:
    """Counts a user checks first: per class, palette and session."""
    return {
        "classes": {c: n for c in classes if (n := sum(r.label == c for r in records))},
        "palettes": dict(sorted(Counter(r.palette or "-" for r in records).items())),
        "sessions": dict(sorted(Counter(r.session for r in records).items())),
        "bursts": len({r.burst for r in records}),
    }
