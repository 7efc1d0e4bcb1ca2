"""The benchmark workloads' framework-free half: the published-pipeline emulation must
produce the very batches the shared loader does, or the end-to-end comparison is unfair."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from common_data.bench.workload import published_batches
from common_data.data import cache
from common_data.data.batches import iterate_batches
from common_data.data.discovery import discover
from common_data.data.preprocess import Preprocess


def test_published_emulation_gives_the_shared_loaders_bytes(
    make_dataset: Callable[..., Path], tmp_cache: Path
) -> None:
    root = make_dataset(per_folder=3)
    preprocess = Preprocess(size=16)
    images = cache.load(discover(root), preprocess)
    indices = np.arange(len(images))[::-1].copy()
    for augment in (False, True):
        kwargs = dict(batch_size=4, seed=3, epoch=1, shuffle=augment, augment=augment)
        ours = list(iterate_batches(images.images, images.labels, indices, **kwargs))
        theirs = list(published_batches(images.records, images.labels, indices, preprocess,
                                        **kwargs))
        assert len(ours) == len(theirs) == 4
        for (x, y), (px, py) in zip(ours, theirs, strict=True):
            assert x.dtype == px.dtype == np.float32
            assert np.array_equal(x, px) and np.array_equal(y, py)
