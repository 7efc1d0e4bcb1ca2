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

Hashing all files on every call would make a cached load slow, so sha256s are kept in a hash
index in the cache, keyed like git's index by (rel_path, size, mtime_ns): a file whose size and
modification time are unchanged is not read again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import sys
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from common_data.atomic import write_text_atomic
from common_data.data.cache_root import cache_root
from common_data.data.card import (
    CARD_NAME,
    DatasetCard,
    Sessions,
    load_card,
    read_manifest_csv,
    shipped_cards,
)
from common_data.errors import DataError

# .webp: lossless WebP keeps every pixel at two thirds of PNG's size (the GPU kit's data pack)
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".bmp", ".png", ".jpg", ".jpeg", ".webp"})
HASH_INDEX_VERSION = 1
SESSION_PATTERNS = Path(__file__).resolve().parent / "session_patterns.toml"
_EXPECTED = "expected a folder of <emotion>/<palette>/<image> or <emotion>/<image>"


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


@dataclass
class _Found:
    """A file found on disk, before hashing."""

    path: Path
    rel_path: str
    folder: str
    palette: str | None
    size: int
    mtime_ns: int


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
        raise DataError(f"data folder {root} does not exist: {_EXPECTED}")
    if not root.is_dir():
        raise DataError(f"data path {root} is a file: {_EXPECTED}")
    root = root.resolve()
    if card is None and (root / CARD_NAME).is_file():
        card = load_card(root / CARD_NAME)

    class_dirs, unknown_folders, ignored = _class_folders(root, _mapper(card, aliases))
    layout, found = _scan_class_folders(root, class_dirs, ignored)
    hashes = _hash_files(root, found, cache_dir)
    if card is None:
        card = _shipped_card(found, hashes)
        if card is not None:  # the shipped card may leave some folders unmapped
            class_dirs, unknown_folders, ignored = _class_folders(root, _mapper(card, aliases))
            layout, found = _scan_class_folders(root, class_dirs, ignored)
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


def _labelled_hash(found: list[_Found], hashes: dict[str, str], card: DatasetCard) -> str | None:
    """`Dataset.hash` of `found` as `card` would label it, or None where it leaves a folder
    without a class (then it cannot be that card's dataset)."""
    digest = hashlib.sha256()
    for item in sorted(found, key=lambda f: f.rel_path):
        label = card.class_of(item.folder)
        if label is None:
            return None
        digest.update(f"{item.rel_path}\t{label}\t{hashes[item.rel_path]}\n".encode())
    return digest.hexdigest()


def _shipped_card(found: list[_Found], hashes: dict[str, str]) -> DatasetCard | None:
    """The shipped card whose content hash is this folder's labelled content, if any."""
    for card in shipped_cards():
        if card.content_hash and _labelled_hash(found, hashes, card) == card.content_hash:
            return card
    return None


def _known_sessions(found: list[_Found]) -> Sessions:
    """Sessions from the first known file-name pattern that matches any file, else none."""
    raw = tomllib.loads(SESSION_PATTERNS.read_text(encoding="utf-8"))
    for entry in raw["pattern"]:
        sessions = Sessions("filename", entry["pattern"], entry["time_format"])
        if any(_parse_time(os.path.basename(f.rel_path), sessions) for f in found):
            return sessions
    return Sessions("none")


def _visible_entries(folder: Path) -> list[os.DirEntry]:
    """Entries of a folder, hidden ones (.DS_Store, .git) excluded, in a stable order."""
    try:
        with os.scandir(folder) as it:
            return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"cannot read folder {folder}: {exc.strerror}") from None


def _kind(entry: os.DirEntry) -> str:
    """'dir', 'image', or why the entry is ignored: 'not an image', 'broken symlink',
    'not a regular file' (FIFO, socket, device). A symlink loop is an error: it is a mistake
    in the dataset, and following it would never end."""
    try:
        if entry.is_dir():
            return "dir"
        if entry.is_file():
            ext = os.path.splitext(entry.name)[1].lower()
            return "image" if ext in IMAGE_EXTENSIONS else "not an image"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataError(
                f"symlink loop at {entry.path}: it never resolves to a file or folder "
                f"(remove the link or point it at a real file)"
            ) from None
        raise DataError(f"cannot read {entry.path}: {exc.strerror}") from None
    return "broken symlink" if entry.is_symlink() else "not a regular file"


def _split_entries(
    entries: list[os.DirEntry], prefix: str, ignored: list[str]
) -> tuple[list[os.DirEntry], list[os.DirEntry]]:
    """(folders, images) among `entries`; everything else goes to `ignored`, listed with why
    unless it is an ordinary non-image file."""
    dirs, images = [], []
    for entry in entries:
        kind = _kind(entry)
        if kind == "dir":
            dirs.append(entry)
        elif kind == "image":
            images.append(entry)
        else:
            note = "" if kind == "not an image" else f" ({kind})"
            ignored.append(f"{prefix}{entry.name}{note}")
    return dirs, images


def _class_folders(
    root: Path, class_of: Callable[[str], str | None]
) -> tuple[dict[str, str], dict[str, int], list[str]]:
    """Map top-level folders to classes; unknown folders are counted, never dropped silently."""
    class_dirs: dict[str, str] = {}
    by_class: dict[str, str] = {}
    unknown: dict[str, int] = {}
    ignored: list[str] = []
    stray_images: list[str] = []
    dirs, images = _split_entries(_visible_entries(root), "", ignored)
    ignored[:] = [name for name in ignored if name != CARD_NAME]  # the card is not data
    stray_images.extend(e.name for e in images)
    for entry in dirs:
        label = class_of(entry.name)
        if label is None:
            unknown[entry.name] = sum(len(files) for _, _, files in os.walk(entry.path))
            continue
        if label in by_class:
            raise DataError(
                f"folders {by_class[label]!r} and {entry.name!r} in {root} both map to class "
                f"{label!r}: expected one folder per class (rename or remove one)"
            )
        by_class[label] = entry.name
        class_dirs[entry.name] = label
    if not class_dirs:
        seen = ", ".join(sorted(unknown)) or "none"
        raise DataError(
            f"no class folders in {root} (found folders: {seen}): expected folders named after "
            f"the classes of its card or an alias of them"
        )
    if stray_images:
        raise DataError(
            f"unknown layout in {root}: image {stray_images[0]!r} lies beside the class folders; "
            f"{_EXPECTED}"
        )
    return class_dirs, unknown, ignored


def _scan_class_folders(
    root: Path, class_dirs: dict[str, str], ignored: list[str]
) -> tuple[str, list[_Found]]:
    """Decide the layout per class folder and insist that all agree."""
    found: list[_Found] = []
    layouts: dict[str, str] = {}
    for folder in sorted(class_dirs):
        subdirs, images = _split_entries(_visible_entries(root / folder), f"{folder}/", ignored)
        if images and subdirs:
            raise DataError(
                f"unknown layout in {root / folder}: it holds both images and folders "
                f"({subdirs[0].name!r}); {_EXPECTED}"
            )
        if subdirs:
            layouts[folder] = "nested"
            for sub in subdirs:
                found.extend(_scan_palette_folder(root, folder, sub, ignored))
        else:
            layouts[folder] = "flat"
            found.extend(_found(root, e, folder, None) for e in images)
    if not found:
        raise DataError(
            f"no images found under {root}: expected {', '.join(sorted(IMAGE_EXTENSIONS))} "
            f"files in <emotion>/<palette>/ or <emotion>/ folders"
        )
    for folder in sorted(class_dirs):
        if not any(f.folder == folder for f in found):
            raise DataError(
                f"class folder {root / folder} holds no images: expected at least one "
                f"{'/'.join(sorted(IMAGE_EXTENSIONS))} file (add images or remove the folder)"
            )
    kinds = set(layouts.values())
    if len(kinds) > 1:
        flat = next(f for f, k in layouts.items() if k == "flat")
        nested = next(f for f, k in layouts.items() if k == "nested")
        raise DataError(
            f"mixed layout in {root}: {flat!r} holds images directly but {nested!r} holds "
            f"palette folders; expected one layout for every class folder"
        )
    return kinds.pop(), found


def _scan_palette_folder(
    root: Path, folder: str, sub: os.DirEntry, ignored: list[str]
) -> list[_Found]:
    deeper, images = _split_entries(_visible_entries(Path(sub.path)), f"{folder}/{sub.name}/",
                                    ignored)
    if deeper:
        raise DataError(
            f"unknown layout: folder {Path(sub.path) / deeper[0].name} is nested too deep; "
            f"{_EXPECTED}"
        )
    if not images:
        raise DataError(
            f"palette folder {sub.path} holds no images: expected at least one "
            f"{'/'.join(sorted(IMAGE_EXTENSIONS))} file (add images or remove the folder)"
        )
    return [_found(root, e, folder, sub.name) for e in images]


def _found(root: Path, entry: os.DirEntry, folder: str, palette: str | None) -> _Found:
    stat = entry.stat()
    parts = [folder, palette, entry.name] if palette is not None else [folder, entry.name]
    return _Found(
        path=root.joinpath(*parts),
        rel_path="/".join(parts),
        folder=folder,
        palette=palette,
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
    )


def _index_path(root: Path, cache_dir: str | os.PathLike | None) -> Path:
    base = Path(cache_dir) if cache_dir is not None else cache_root()
    name = hashlib.sha256(str(root).encode()).hexdigest()[:20]
    return base / "hash-index" / f"{name}.json"


def _hash_files(
    root: Path, found: list[_Found], cache_dir: str | os.PathLike | None
) -> dict[str, str]:
    """sha256 per rel_path, re-reading only files whose (size, mtime_ns) changed."""
    index_path = _index_path(root, cache_dir)
    index = _read_index(index_path)
    hashes: dict[str, str] = {}
    todo: list[_Found] = []
    for item in found:
        entry = index.get(item.rel_path)
        if entry is not None and entry[0] == item.size and entry[1] == item.mtime_ns:
            hashes[item.rel_path] = entry[2]
        else:
            todo.append(item)
    if todo:
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            for item, digest in zip(todo, pool.map(_sha256_file, todo), strict=True):
                hashes[item.rel_path] = digest
    current = {f.rel_path: [f.size, f.mtime_ns, hashes[f.rel_path]] for f in found}
    if current != index:
        _write_index(index_path, root, current)
    return hashes


def _sha256_file(item: _Found) -> str:
    try:
        with open(item.path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise DataError(f"cannot read image file {item.path}: {exc.strerror}") from None


def _read_index(path: Path) -> dict[str, list]:
    """A missing or unreadable index only costs re-hashing, so it is never an error."""
    try:
        data = json.loads(path.read_text())
        if data.get("version") == HASH_INDEX_VERSION and isinstance(data.get("files"), dict):
            return data["files"]
    except (OSError, ValueError, AttributeError):
        pass
    return {}


def _write_index(path: Path, root: Path, files: dict[str, list]) -> None:
    payload = json.dumps({"version": HASH_INDEX_VERSION, "root": str(root), "files": files})
    try:
        write_text_atomic(path, payload)
    except OSError as exc:
        print(
            f"warning: cannot write hash index {path} ({exc.strerror}); files will be re-hashed "
            f"next time",
            file=sys.stderr,
        )


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


def _session_of(found: list[_Found], sessions: Sessions) -> dict[str, tuple[datetime | None,
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
    found: list[_Found], class_dirs: dict[str, str], hashes: dict[str, str], sessions: Sessions
) -> list[Record]:
    """Attach label, capture time, session and burst; bursts split where gaps reach the limit.

    A manifest's subject column makes (session, subject, class, palette) one burst; frames with
    neither a time nor a subject are each their own burst."""
    meta = _session_of(found, sessions)
    groups: dict[tuple, list[_Found]] = defaultdict(list)
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
