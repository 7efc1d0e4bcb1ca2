"""Opening a file that something outside our control named: a record, a Ray result, a glob hit.

A record is data anyone can edit, and a Ray node is another machine. So a path they name
must resolve inside the folder it belongs to (no `../`, no absolute path, no symlink out of
it), and a file is opened without blocking and checked with `fstat` on the open handle
before a byte is read: a FIFO would hang the reader forever, `/dev/zero` would feed a hash
forever, and checking the type by name first would leave a window to swap the file.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from common_data.errors import DataError

_KINDS = (
    (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symlink"),
)


def kind_of(mode: int) -> str:
    """'a FIFO', 'a character device', ...: what a non-regular file is, for a message."""
    return next((text for test, text in _KINDS if test(mode)), "not a regular file")


def inside(folder: Path, name: str, what: str) -> Path:
    """`folder / name` when `name` is relative and the path resolves inside `folder`.

    DataError otherwise, naming `what` (e.g. "predictions file") and the offending name.
    """
    if not isinstance(name, str):
        raise DataError(f"{what} {name!r}: expected a relative path inside {folder}")
    parts = PurePosixPath(name).parts
    if not name or PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name:
        raise DataError(f"{what} {name!r}: expected a relative path inside {folder}")
    path = folder / name
    try:
        resolved = path.resolve()
        base = folder.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        raise DataError(f"{what} {path}: cannot resolve the path ({exc})") from None
    if not resolved.is_relative_to(base):
        raise DataError(f"{what} {path}: resolves to {resolved}, outside {base}")
    return path


@contextlib.contextmanager
def open_regular(path: str | os.PathLike[str], what: str = "file") -> Iterator[BinaryIO]:
    """A binary handle on `path`, refused unless the opened file is a regular file.

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer; the
    check then runs on the handle itself. OSError (missing, unreadable) passes through.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise DataError(f"{what} {path}: {kind_of(mode)}, expected a regular file")
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


SIDE_FILE_BYTES = 64 * 1024 * 1024  # a side file (failure note, finding) is far smaller


def read_json_text(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of a small regular file: a FIFO put where a side file belongs must
    not hang the report, nor a huge one exhaust its memory."""
    return read_regular(path, what, SIDE_FILE_BYTES).decode("utf-8")


def read_regular(path: str | os.PathLike[str], what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; DataError for anything else."""
    with open_regular(path, what) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise DataError(f"{what} {path}: larger than {limit:,} bytes, expected a small file")
    return data
