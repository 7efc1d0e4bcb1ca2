"""Turn a `--data` argument into a folder, and a run's data settings into decoded images."""

from __future__ import annotations

from pathlib import Path

from common_data.data.cache import Images, load
from common_data.data.discovery import discover
from common_data.data.preprocess import Preprocess
from common_data.errors import DataError

SYNTHETIC = "synthetic"


def resolve_data(arg: str) -> Path:
    """'synthetic' is generated on demand into the cache; anything else must be a folder."""
    if arg == SYNTHETIC:
        # Imported here: generating pulls in the whole generator, which a real-data run never needs.
        from common_data.data.synthetic import ensure_synthetic

        return ensure_synthetic()
    path = Path(arg).expanduser()
    if not path.exists():
        raise DataError(
            f"--data {arg!r} does not exist: expected 'synthetic' or a dataset folder"
        )
    if not path.is_dir():
        raise DataError(f"--data {arg!r} is a file: expected 'synthetic' or a dataset folder")
    return path.resolve()


def load_for_run(
    data: str,
    image_size: int = 128,
    hud: str = "full",
    skip_bad: bool = False,
    aliases: dict[str, str] | None = None,
) -> Images:
    """Everything a runner needs in one call: images, labels, records and their hashes."""
    preprocess = Preprocess(size=image_size, hud=hud)
    dataset = discover(resolve_data(data), aliases=aliases)
    return load(dataset, preprocess, skip_bad=skip_bad)
