"""Walking a dataset folder: which entries are class folders, palette folders and images,
and which layout (nested or flat) they form. Anything else is refused in one line, with the
layout that was expected: a silently misread folder would poison every number built on it.
Entries that are not images are listed with why (broken symlink, FIFO, ...), never opened.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common_data.data.card import CARD_NAME
from common_data.errors import DataError

# .webp: lossless WebP keeps every pixel at two thirds of PNG's size (the GPU kit's data pack)
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".bmp", ".png", ".jpg", ".jpeg", ".webp"})
EXPECTED_LAYOUT = "expected a folder of <emotion>/<palette>/<image> or <emotion>/<image>"


@dataclass
class Found:
    """A file found on disk, before hashing."""

    path: Path
    rel_path: str
    folder: str
    palette: str | None
    size: int
    mtime_ns: int


def visible_entries(folder: Path) -> list[os.DirEntry]:
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


def class_folders(
    root: Path, class_of: Callable[[str], str | None]
) -> tuple[dict[str, str], dict[str, int], list[str]]:
    """Map top-level folders to classes; unknown folders are counted, never dropped silently."""
    class_dirs: dict[str, str] = {}
    by_class: dict[str, str] = {}
    unknown: dict[str, int] = {}
    ignored: list[str] = []
    stray_images: list[str] = []
    dirs, images = _split_entries(visible_entries(root), "", ignored)
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
            f"{EXPECTED_LAYOUT}"
        )
    return class_dirs, unknown, ignored


def scan_class_folders(
    root: Path, class_dirs: dict[str, str], ignored: list[str]
) -> tuple[str, list[Found]]:
    """Decide the layout per class folder and insist that all agree."""
    found: list[Found] = []
    layouts: dict[str, str] = {}
    for folder in sorted(class_dirs):
        subdirs, images = _split_entries(visible_entries(root / folder), f"{folder}/", ignored)
        if images and subdirs:
            raise DataError(
                f"unknown layout in {root / folder}: it holds both images and folders "
                f"({subdirs[0].name!r}); {EXPECTED_LAYOUT}"
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
) -> list[Found]:
    deeper, images = _split_entries(visible_entries(Path(sub.path)), f"{folder}/{sub.name}/",
                                    ignored)
    if deeper:
        raise DataError(
            f"unknown layout: folder {Path(sub.path) / deeper[0].name} is nested too deep; "
            f"{EXPECTED_LAYOUT}"
        )
    if not images:
        raise DataError(
            f"palette folder {sub.path} holds no images: expected at least one "
            f"{'/'.join(sorted(IMAGE_EXTENSIONS))} file (add images or remove the folder)"
        )
    return [_found(root, e, folder, sub.name) for e in images]


def _found(root: Path, entry: os.DirEntry, folder: str, palette: str | None) -> Found:
    stat = entry.stat()
    parts = [folder, palette, entry.name] if palette is not None else [folder, entry.name]
    return Found(
        path=root.joinpath(*parts),
        rel_path="/".join(parts),
        folder=folder,
        palette=palette,
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
    )
