"""The one way this project writes a file: readers see the old content or the new, never half.

Records, predictions, configs, the decode cache, the hash index, the report, its figures and
exports are all read by other processes (the harness, a resumed matrix, a second run sharing
the cache) while they may be written. So every writer goes through `atomic_file`: a
temporary file in the target's folder (same filesystem, so the rename is atomic), flushed
and fsynced, then `os.replace`d over the target. A failure removes the temporary file and
leaves the old target untouched; a killed writer leaves only `.<name>.*.tmp`, which
`benchmarks.matrix.lock.sweep_temporaries` clears.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from common_data.safe_files import kind_of

PathLike = str | os.PathLike[str]


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside `path` for writers that insist on opening a file by name
    (matplotlib, pandas, the frameworks' weight writers); it replaces `path` when the block
    ends without an exception. `suffix` follows `.tmp` for writers that judge a file by its
    ending (Keras wants `.weights.h5`)."""
    target = Path(path)
    _refuse_special(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                suffix=f".tmp{suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide results from other users
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_file(path: PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """An open handle on a temporary file that replaces `path` when the block ends cleanly."""
    with atomic_path(path) as tmp, open(tmp, mode) as handle:
        yield handle


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    with atomic_file(path) as handle:
        handle.write(data)


def write_text_atomic(path: PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: PathLike, obj: Any) -> None:
    """Strict JSON, serialised before any file is created, so a value that cannot be written
    leaves the old file and no temporary. NaN and infinity are refused (``allow_nan=False``):
    they are not JSON and other tools reject them; write None instead. NumPy scalars and
    arrays and paths are converted, since twins hand back NumPy values."""
    write_text_atomic(path, json_text(obj))


def json_text(obj: Any) -> str:
    """The text `write_json_atomic` writes for `obj` (a caller may compare it with a stored
    file before writing)."""
    return json.dumps(obj, indent=2, allow_nan=False, default=_to_json) + "\n"


def save_npz_atomic(path: PathLike, **arrays: np.ndarray) -> None:
    with atomic_file(path) as handle:
        np.savez(handle, **arrays)


def _to_json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _refuse_special(target: Path) -> None:
    """Replace only a regular file or nothing: renaming over `/dev/stdout` (a symlink), a FIFO
    or a device would swap a system file for ours, so such a target is an OSError naming it."""
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OSError(f"{target}: cannot check the target ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise OSError(f"{target}: {kind_of(mode)}, not a regular file; results are written "
                      "only onto regular files or new paths")


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; not every platform lets a directory be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
