"""One harness per results folder: two writers would race on records and the report.

The lock is `fcntl.flock` on `<results>/.harness.lock`, held for as long as the harness runs.
The kernel releases it when the process dies, however it dies, so there is no stale lock to
detect and no window between creating the file and claiming it (a pid file has both). The pid
written into the file only serves the message that names the holder.
"""

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from common_data.errors import ConfigError

LOCK_NAME = ".harness.lock"
_HELD: set[Path] = set()  # folders this process holds: `compare` holds the lock from its
# preflight to its report and calls `run_matrix`, which takes it too


def sweep_temporaries(results_dir: Path) -> None:
    """Remove the temporary files of writers that were killed mid-write (`.<name>.*.tmp`, or
    `.tmp<suffix>` from `atomic_path`), in the results folder, its folders and the weights'
    run folders. Only the lock holder may: nobody else can be writing them now."""
    folders = [results_dir, *(p for p in results_dir.iterdir() if p.is_dir())]
    folders += [p for p in (results_dir / "runs" / "weights").glob("*") if p.is_dir()]
    for folder in folders:
        for tmp in [*folder.glob(".*.tmp"), *folder.glob(".*.tmp.*")]:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _holder(handle: int) -> str:
    try:
        text = os.pread(handle, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


@contextlib.contextmanager
def results_lock(results_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on `<results>/.harness.lock` for the block, or refuse at once.

    Re-entrant within one process, so a command can hold it for its whole life while the
    functions it calls take it as well.
    """
    key = results_dir.absolute()
    if key in _HELD:
        yield
        return
    path = results_dir / LOCK_NAME
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(
            f"--results {results_dir}: cannot create the lock file {path} "
            f"({exc.strerror or exc}); expected a writable results folder"
        ) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"results folder {results_dir} is locked by another harness{_holder(handle)}: "
                f"wait for it to finish, or use --results with another folder"
            ) from None
        pid = str(os.getpid()).encode()
        os.pwrite(handle, pid, 0)
        os.ftruncate(handle, len(pid))
        sweep_temporaries(results_dir)
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
    finally:
        os.close(handle)  # closing releases the lock; the file stays, harmless and unlocked
