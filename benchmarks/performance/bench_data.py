"""Data-layer throughput (pytest-benchmark):
`python -m pytest benchmarks/performance/bench_data.py`.

Reports decode, cached-load, augmentation and batch-iteration speed on the real set when
`../shared/datasets/facial-emotion` is there, else on a generated stand-in of the same frame
size. It never asserts a timing: numbers depend on the machine, and a benchmark that fails on
a slow runner teaches nothing.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from common_data.data import cache
from common_data.data.augment import augment_image
from common_data.data.batches import iterate_batches
from common_data.data.discovery import discover
from common_data.data.preprocess import Preprocess

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = PROJECT_ROOT.parent / "shared" / "datasets" / "facial-emotion"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real set, or 500 random 240x320 PNGs in its layout when it is absent."""
    if REAL_DATA.is_dir():
        return REAL_DATA
    root = tmp_path_factory.mktemp("bench-data")
    rng = np.random.default_rng(0)
    for i in range(500):
        folder = root / ("angry", "happy", "natural", "sad", "surpise")[i % 5] / "IRON"
        folder.mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 256, (320, 240, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"img20240303_{i // 60:02d}{i % 60:02d}00.png"), image)
    return root


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private cache, so a cold decode really is cold and .cache/ is left alone."""
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture(scope="module")
def images(data_root: Path, cache_dir: Path) -> cache.Images:
    return cache.load(discover(data_root, cache_dir=cache_dir), Preprocess(), cache_dir=cache_dir)


def test_first_decode(benchmark, data_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """Hash, decode, convert, resize and write the cache for the whole set, from nothing."""

    def cold() -> cache.Images:
        fresh = tmp_path_factory.mktemp("cold")
        return cache.load(discover(data_root, cache_dir=fresh), Preprocess(), cache_dir=fresh)

    result = benchmark.pedantic(cold, rounds=2, iterations=1)
    benchmark.extra_info["files"] = len(result)


def test_decode_throughput(benchmark, data_root: Path, cache_dir: Path):
    """Decode + RGB + resize alone (no hashing, no cache), on up to 300 files."""
    records = discover(data_root, cache_dir=cache_dir).records[:300]
    benchmark.pedantic(cache._decode_all, args=(records, Preprocess()), rounds=3, iterations=1)
    benchmark.extra_info["files"] = len(records)


def test_cached_load(benchmark, data_root: Path, cache_dir: Path, images: cache.Images):
    """What every run after the first pays: discover via the hash index + verified cache read."""

    def warm() -> cache.Images:
        return cache.load(discover(data_root, cache_dir=cache_dir), Preprocess(),
                          cache_dir=cache_dir)

    loaded = benchmark.pedantic(warm, rounds=5, iterations=1)
    benchmark.extra_info["files"] = len(loaded)
    benchmark.extra_info["megabytes"] = round(loaded.images.nbytes / 1e6, 1)


def test_augment_throughput(benchmark, images: cache.Images):
    """The published augmentation on 256 frames at 128x128."""
    frames = images.images[:256]

    def run() -> None:
        for i, image in enumerate(frames):
            augment_image(image, 0, 0, i)

    benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["frames"] = len(frames)


@pytest.mark.parametrize("augment", [False, True], ids=["plain", "augmented"])
def test_batch_iteration(benchmark, images: cache.Images, augment: bool):
    """One epoch of batches of 32 over the whole set, as a twin consumes it."""
    indices = np.arange(len(images))

    def epoch() -> int:
        return sum(
            len(y)
            for _, y in iterate_batches(images.images, images.labels, indices, batch_size=32,
                                        seed=0, epoch=0, shuffle=True, augment=augment)
        )

    served = benchmark.pedantic(epoch, rounds=3, iterations=1)
    benchmark.extra_info["frames"] = served
