"""The only way data reaches a twin: identical batches, byte for byte, in both frameworks.

Order comes from `np.random.default_rng([seed, epoch]).permutation`, augmentation from a
per-sample generator (see `augment.py`), and pixels become float32 as `uint8 / 255` after the
augmentation, so nothing depends on a framework's loader, worker count or Python version.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from common_data.data.augment import augment_image
from common_data.errors import ConfigError


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name}={value!r} is not valid: expected an integer >= {minimum}")


def count_batches(n_samples: int, batch_size: int, drop_last: bool = False) -> int:
    """Batches per epoch: a partial last batch counts unless `drop_last`."""
    _check_int("batch_size", batch_size, 1)
    return n_samples // batch_size if drop_last else math.ceil(n_samples / batch_size)


def epoch_order(indices: np.ndarray, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """The dataset indices of one epoch in the order they are served."""
    indices = np.asarray(indices, dtype=np.int64)
    if not shuffle:
        return indices
    return indices[np.random.default_rng([seed, epoch]).permutation(len(indices))]


def iterate_batches(
    images: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    shuffle: bool,
    augment: bool,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (x float32 NHWC in [0, 1], y int64) for one epoch over `indices`."""
    _check_int("batch_size", batch_size, 1)
    _check_int("seed", seed, 0)
    _check_int("epoch", epoch, 0)
    order = epoch_order(indices, seed, epoch, shuffle)
    for b in range(count_batches(len(order), batch_size, drop_last)):
        chunk = order[b * batch_size : (b + 1) * batch_size]
        if augment:
            pixels = np.stack([augment_image(images[i], seed, epoch, int(i)) for i in chunk])
        else:
            pixels = images[chunk]
        x = pixels.astype(np.float32) / np.float32(255)
        yield x, labels[chunk].astype(np.int64)
