"""Shared fixtures: the real dataset when it is there, tiny generated datasets always."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from common_data.data.cache import Images
from common_data.data.discovery import Record
from common_data.data.preprocess import Preprocess
from tf_impl import ONEDNN_ENV

# Twins built in a test process have mode.onednn false, and TensorFlow decides oneDNN once, at
# import: set here, before any test module imports it, or an AVX-512 CPU would turn it on.
os.environ[ONEDNN_ENV] = "0"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = PROJECT_ROOT.parent / "shared" / "datasets" / "facial-emotion"
BASE_TIME = datetime(2024, 3, 3, 10, 0, 0)
# the classes of the generated test datasets: their folders are named after them, no card
CLASSES: tuple[str, ...] = ("angry", "happy", "natural", "sad", "surprise")
# committed records of one setting (both twins, 32 px, seed 0): a results folder in miniature
SEED_RUNS = sorted((PROJECT_ROOT / "results" / "runs").glob("*-baseline-random-full-32px-s0-*"))


def ctrl_c_reaches_child() -> None:
    """`preexec_fn` for a harness a test interrupts: a shell starts background jobs with
    SIGINT ignored, and Python keeps an inherited SIG_IGN instead of raising
    KeyboardInterrupt, so without this the test would depend on how pytest was launched."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real set; skipped cleanly in a fresh clone, which has no ../shared."""
    if not REAL_DATA.is_dir():
        pytest.skip("../shared/datasets/facial-emotion not present")
    return REAL_DATA


@pytest.fixture(scope="session")
def real_images_64(real_data: Path) -> Images:
    """The real set decoded once at 64x64 into the normal cache, so later sessions are fast."""
    from common_data.data.cache import load
    from common_data.data.datasets import preprocess_for
    from common_data.data.discovery import discover

    dataset = discover(real_data)
    return load(dataset, preprocess_for(dataset, 64))


@pytest.fixture
def tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache (also inherited by CLI subprocesses) so tests never touch .cache/."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("THERMAL_BENCH_CACHE", str(cache))
    return cache


def five_class_card(root: Path, overlay: str = 'source = "none"', **aliases: str) -> Path:
    """Write a dataset.toml into `root`: the five CLASSES, these folder aliases, no sessions,
    `overlay` (the [overlay] table's body; none by default). Folders it does not name are
    unknown, as they are for a user's card."""
    names = ", ".join(f'"{c}"' for c in CLASSES)
    table = "".join(f'{folder} = "{target}"\n' for folder, target in aliases.items())
    root.mkdir(parents=True, exist_ok=True)
    path = root / "dataset.toml"
    path.write_text(f'[dataset]\nname = "test"\n[classes]\nnames = [{names}]\n'
                    f'[classes.aliases]\n{table}[sessions]\nsource = "none"\n'
                    f'[overlay]\n{overlay}\n', encoding="utf-8")
    return path


def frame(seed: int, height: int = 40, width: int = 30) -> np.ndarray:
    """A random BGR uint8 frame; random so that no two generated files are alike."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def write_image(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix, image)
    assert ok, path
    path.write_bytes(data.tobytes())
    return path


def flat_dataset(root: Path, per_class: int = 5, dated: bool = True) -> Path:
    """A tiny flat dataset at `root`: every class, distinct 40x30 frames 3 s apart (or
    without capture times when not `dated`)."""
    seed = 0
    for label in CLASSES:
        for i in range(per_class):
            seed += 1
            name = stamp(3 * i) if dated else f"frame{i}"
            write_image(root / label / f"{name}.png", frame(seed))
    return root


def stamp(offset_s: float, base: datetime = BASE_TIME) -> str:
    return (base + timedelta(seconds=offset_s)).strftime("img%Y%m%d_%H%M%S")


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Build `<class>[/<palette>]/imgYYYYMMDD_HHMMSS.png` folders with distinct random frames.

    Frames of one folder are 3 s apart (one burst); `days` repeats everything on later days so
    session splits have sessions to work with.
    """

    def build(
        folders: Sequence[str] = CLASSES,
        palettes: Sequence[str] | None = None,
        per_folder: int = 3,
        days: int = 1,
        ext: str = ".png",
        name: str = "data",
    ) -> Path:
        root = tmp_path / name
        seed = 0
        for day in range(days):
            base = BASE_TIME + timedelta(days=day)
            for folder in folders:
                for palette in palettes or [None]:
                    target = root / folder / palette if palette else root / folder
                    for i in range(per_folder):
                        seed += 1
                        write_image(target / f"{stamp(3 * i, base)}{ext}", frame(seed))
        return root

    return build


def fake_images(
    labels: Sequence[int],
    sessions: Sequence[str],
    pixels: np.ndarray | None = None,
    bursts: Sequence[str] | None = None,
) -> Images:
    """Images without files, for split logic: records carry only what splits read."""
    n = len(labels)
    if pixels is None:
        pixels = np.random.default_rng(0).integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)
    records = [
        Record(
            path=Path(f"/nowhere/{i}.png"),
            rel_path=f"{CLASSES[label]}/{i:05d}.png",
            label=CLASSES[label],
            folder=CLASSES[label],
            palette=None,
            captured_at=None,
            session=sessions[i],
            burst=bursts[i] if bursts is not None else f"b{i}",
            sha256=f"{i:064x}",
        )
        for i, label in enumerate(labels)
    ]
    return Images(
        images=pixels,
        labels=np.asarray(labels, dtype=np.int64),
        records=records,
        cache_key="fake",
        dataset_hash="fake",
        root=Path("/nowhere"),
        preprocess=Preprocess(size=16),
        classes=CLASSES,
    )


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m common_data ...` as a user runs it, with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "common_data", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
