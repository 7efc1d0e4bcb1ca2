"""Turn a `--data` argument into a folder, and a run's data settings into decoded images."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from common_data.data.cache import Images, load
from common_data.data.card import CARD_NAME, DatasetCard, load_card, shipped_cards
from common_data.data.discovery import Dataset, discover
from common_data.data.preprocess import Preprocess
from common_data.errors import ConfigError, DataError

SYNTHETIC = "synthetic"
SYNTHETIC_FLAT = "synthetic-flat"  # a new user's kind of data: flat JPEGs, six classes, no card
EMBEDDED = (SYNTHETIC, SYNTHETIC_FLAT)


def resolve_data(arg: str) -> Path:
    """The embedded datasets are generated on demand into the cache; anything else must be a
    folder."""
    if arg == SYNTHETIC:
        # Imported here: generating pulls in the whole generator, which a real-data run never needs.
        from common_data.data.synthetic import ensure_synthetic

        return ensure_synthetic()
    if arg == SYNTHETIC_FLAT:
        from common_data.data.synthetic_flat import ensure_synthetic_flat

        return ensure_synthetic_flat()
    path = Path(arg).expanduser()
    if not path.exists():
        raise DataError(
            f"--data {arg!r} does not exist: expected 'synthetic' or a dataset folder"
        )
    if not path.is_dir():
        raise DataError(f"--data {arg!r} is a file: expected 'synthetic' or a dataset folder")
    return path.resolve()


def card_digest(path: str | Path, where: str) -> str:
    """sha256 of a card file's bytes: a run config names the card it was planned with by
    this, so an edited card makes new runs instead of passing for the old ones."""
    source = Path(path).expanduser()
    if not source.is_file():  # a folder, a FIFO or nothing: never opened, so never a hang
        raise ConfigError(f"{where}: no such file (expected a dataset card, a TOML file)")
    return hashlib.sha256(source.read_bytes()).hexdigest()


def open_dataset(data: str, card: str = "", card_sha256: str = "") -> Dataset:
    """The dataset `data` names, labelled by `card` when one is given (a run config's `card`
    and `card_sha256`), else by its folder's dataset.toml or a shipped card."""
    if not card:
        return discover(resolve_data(data))
    where = f"card {card}"
    if card_sha256 and card_digest(card, where) != card_sha256:
        raise ConfigError(f"{where}: the file changed after the runs were planned (expected "
                          f"sha256 {card_sha256[:12]}...): run the command again to plan "
                          "runs for the edited card")
    return discover(resolve_data(data), card=load_card(card, where))


def preprocess_for(dataset: Dataset, image_size: int = 128, hud: str = "full") -> Preprocess:
    """The preprocessing of `dataset` at this size and overlay mode: the overlay boxes are the
    ones its card declares (none without a card, so only `hud="full"` is possible then). They
    ride along under "full" too, where they change no pixel and no cache key, because the
    leakage audit leaves overlay pixels out of its comparison."""
    boxes = dataset.card.overlay if dataset.card is not None else ()
    return Preprocess(size=image_size, hud=hud, boxes=boxes)


def load_for_run(
    data: str,
    image_size: int = 128,
    hud: str = "full",
    skip_bad: bool = False,
    aliases: dict[str, str] | None = None,
    card: DatasetCard | None = None,
) -> Images:
    """Everything a runner needs in one call: images, labels, records and their hashes."""
    dataset = discover(resolve_data(data), aliases=aliases, card=card)
    return load(dataset, preprocess_for(dataset, image_size, hud), skip_bad=skip_bad)


def training_card(record: dict[str, Any]) -> DatasetCard | None:
    """The card of the dataset a run record was trained on: the shipped card of its content
    hash, else the dataset.toml in its folder (if that folder is still there)."""
    for card in shipped_cards():
        if card.content_hash and card.content_hash == record["data"]["dataset_hash"]:
            return card
    path = Path(record["data"]["dataset"]) / CARD_NAME
    return load_card(path) if path.is_file() else None


def discover_for_model(root: Path, record: dict[str, Any],
                       aliases: dict[str, str] | None = None) -> Dataset:
    """`root` labelled in the class order of the model a record describes, for evaluation.

    Folder names map through `aliases` (a user's --aliases), then the training dataset card's
    aliases (the model's vocabulary: `anger` -> `angry`), then the folder's own card or name.
    Frames of a class the model has no output for are left out and reported as unmapped
    folders: scoring them as some other class would be a guess."""
    card = training_card(record)
    vocabulary = {**(card.aliases if card is not None else {}), **(aliases or {})}
    dataset = discover(root, aliases=vocabulary)
    classes = tuple(record["metrics"]["classes"])
    dropped = Counter(r.folder for r in dataset.records if r.label not in classes)
    records = [r for r in dataset.records if r.label in classes]
    if not records:
        raise DataError(
            f"no folder of {root} maps to a class of the model ({', '.join(classes)}): "
            f"expected folders named after them, or an alias file (--aliases FILE)"
        )
    return replace(dataset, records=records, classes=classes,
                   unknown_folders={**dataset.unknown_folders, **dropped})
