"""What a run reads: from a run config to its images and split, written once.

Runs, the benchmark workloads (`common_data.bench.workload`) and the finding's integrity
check (`benchmarks.cli.finding`) all get their data through `load_run_data`, so "the data a run
with this config saw" has one definition. The validation batches and their digest are here
too: the run scores on them and the finding recomputes the digest to prove nothing leaked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from common_data.data import faults
from common_data.data.batches import iterate_batches
from common_data.data.cache import Images, load
from common_data.data.datasets import open_dataset, preprocess_for
from common_data.data.discovery import Dataset
from common_data.data.splits import Split, make_split
from common_data.data.training_set import training_view
from common_data.regimes import has_folds
from common_data.run.config import RunConfig


def run_dataset(config: RunConfig) -> Dataset:
    """The dataset the config names (`"synthetic"` is generated on first use), labelled by
    the config's card if it names one."""
    return open_dataset(config.data, config.card, config.card_sha256)


def run_images(config: RunConfig, dataset: Dataset | None = None) -> Images:
    """The dataset decoded (or read from the decode cache) at the config's input size and HUD
    mode; `dataset` when the caller already discovered it."""
    dataset = dataset or run_dataset(config)
    return load(dataset, preprocess_for(dataset, config.image_size, config.hud),
                skip_bad=config.skip_bad)


def load_run_data(config: RunConfig, images: Images | None = None) -> tuple[Images, Split]:
    """The same bytes, preprocessing and split for both twins: the config's split of its
    images, with its `fault` (if any) injected. `images`: this config's `run_images`, when
    the caller already holds them (the finding checks many records against one decode). The
    training side is then the config's training set (palettes, frame count, colour mode:
    common_data.data.training_set), chosen before any fault so a fault alters what a run
    would otherwise have seen."""
    if images is None:
        images = run_images(config)
    elif (images.preprocess.size, images.preprocess.hud) != (config.image_size, config.hud):
        raise ValueError(f"images preprocessed as {images.preprocess}, but the config asks for "
                         f"{config.image_size} px with hud {config.hud!r}")
    split = make_split(images, config.split, fold=split_fold(config), seed=config.split_seed)
    images, split = training_view(config, images, split)
    return faults.inject(config.fault, images, split, config.seed)


def split_fold(config: RunConfig) -> int | None:
    """The fold of a split with folds (leave one session out); the key means nothing for the
    other splits."""
    return config.fold if has_folds(config.split) else None


def data_section(config: RunConfig, images: Images, split: Split) -> dict[str, Any]:
    """The record's `data` section: which data, how split, and the digest of what was scored."""
    return {
        "dataset": str(images.root), "dataset_hash": images.dataset_hash,
        "cache_key": images.cache_key, "split": config.split, "fold": split_fold(config),
        "split_hash": split.hash, "n_train": len(split.train), "n_val": len(split.val),
        "image_size": config.image_size, "hud": config.hud,
        "val_digest": validation_digest(images, split.val, config),
    }


def validation_batches(
    images: Images, indices: np.ndarray, config: RunConfig
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The validation inputs exactly as `predict` feeds them to a twin."""
    return iterate_batches(
        images.images, images.labels, indices, batch_size=config.batch_size, seed=config.seed,
        epoch=0, shuffle=False, augment=faults.augments_validation(config.fault),
    )


def validation_digest(images: Images, indices: np.ndarray, config: RunConfig) -> str:
    """sha256 over the validation inputs and labels a run is scored on. The finding's checks
    compare it with the clean pipeline's, so a leak into validation cannot pass unnoticed."""
    digest = hashlib.sha256()
    for x, y in validation_batches(images, indices, config):
        digest.update(x.tobytes())
        digest.update(y.tobytes())
    return digest.hexdigest()
