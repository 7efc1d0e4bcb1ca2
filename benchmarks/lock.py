"""One harness per results folder: two writers would race on records and the report."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from common_data.errors import ConfigError

LOCK_NAME = ".harness.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def results_lock(results_dir: Path) -> Iterator[None]:
    """Hold `<results>/.harness.lock` for the block; a lock left by a dead process is taken over."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / LOCK_NAME
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = int(path.read_text().strip() or "0")
            except (OSError, ValueError):
                owner = 0
            if owner and _alive(owner):
                raise ConfigError(
                    f"results folder {results_dir} is locked by another harness (pid {owner}): "
                    f"wait for it to finish, or use --results with another folder"
                ) from None
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
