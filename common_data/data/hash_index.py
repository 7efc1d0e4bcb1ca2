"""The sha256 of every image file, kept in a hash index in the cache: keyed like git's index
by (rel_path, size, mtime_ns), so a file whose size and modification time are unchanged is not
read again, and a cached load does not re-hash the whole dataset."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common_data.atomic import write_text_atomic
from common_data.data.cache_root import cache_root
from common_data.data.folder_scan import Found
from common_data.errors import DataError

HASH_INDEX_VERSION = 1


def _index_path(root: Path, cache_dir: str | os.PathLike | None) -> Path:
    base = Path(cache_dir) if cache_dir is not None else cache_root()
    name = hashlib.sha256(str(root).encode()).hexdigest()[:20]
    return base / "hash-index" / f"{name}.json"


def hash_files(
    root: Path, found: list[Found], cache_dir: str | os.PathLike | None
) -> dict[str, str]:
    """sha256 per rel_path, re-reading only files whose (size, mtime_ns) changed."""
    index_path = _index_path(root, cache_dir)
    index = _read_index(index_path)
    hashes: dict[str, str] = {}
    todo: list[Found] = []
    for item in found:
        entry = index.get(item.rel_path)
        if entry is not None and entry[0] == item.size and entry[1] == item.mtime_ns:
            hashes[item.rel_path] = entry[2]
        else:
            todo.append(item)
    if todo:
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            for item, digest in zip(todo, pool.map(sha256_file, todo), strict=True):
                hashes[item.rel_path] = digest
    current = {f.rel_path: [f.size, f.mtime_ns, hashes[f.rel_path]] for f in found}
    if current != index:
        _write_index(index_path, root, current)
    return hashes


def sha256_file(item: Found) -> str:
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
