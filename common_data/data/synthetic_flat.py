"""The second embedded dataset `synthetic-flat`: a new user's kind of data, not the seed's.

Flat `<emotion>/<image>.jpg` folders, 48x48 JPEGs, six classes, no capture time in the file
names, no burned-in overlay, and bursts of near-identical frames. Without a card, classes come
from the folder names and there are no sessions, so `compare` must fall back to the grouped
split and skip the overlay regimes: this dataset is how the tests prove it does.

Output is a pure function of (FLAT_VERSION, seed, bursts per class): each burst draws from its
own keyed random stream and JPEGs are encoded with fixed parameters.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from common_data.data.cache_root import cache_root

FLAT_VERSION = 1
NAME = "synthetic-flat"
EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "happy", "neutral", "sad")
SIZE = 48
FRAMES_PER_BURST = 4
JPEG_PARAMS = (cv2.IMWRITE_JPEG_QUALITY, 95)
MANIFEST = "SYNTHETIC_FLAT.json"


def _burst(seed: int, label: int, burst: int) -> list[np.ndarray]:
    """One subject's burst: a warm oval face whose mouth and brow depend on the class, then
    the same frame with a pixel or two of shift and a little sensor noise per shot."""
    rng = np.random.default_rng([seed, label, burst])
    v, u = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1) - 0.5
    cu, cv_ = rng.uniform(-0.15, 0.15, 2)  # subjects stand in different places
    face = np.exp(-(((u - cu) / rng.uniform(0.22, 0.32)) ** 2
                    + ((v - cv_) / rng.uniform(0.3, 0.4)) ** 2))
    # a smooth background of its own per burst, so two subjects are never near-copies
    background = cv2.GaussianBlur(rng.normal(0, 1, (SIZE, SIZE)), (0, 0), 4)
    background *= 110 / max(float(np.abs(background).max()), 1e-6)
    mouth_curve = (label - 2.5) / 2.5 * 0.08  # a class cue: the mouth bends with the class
    mouth = np.exp(-(((v - cv_ - 0.18 - mouth_curve * ((u - cu) / 0.15) ** 2) / 0.03) ** 2
                     + ((u - cu) / 0.15) ** 4))
    brow = np.exp(-(((v - cv_ + 0.18 + 0.02 * (label % 3)) / 0.025) ** 2
                   + ((u - cu) / 0.2) ** 2))
    base = (70 + background + 150 * face - 60 * mouth - 40 * brow
            + rng.normal(0, 3, (SIZE, SIZE)))
    frames = []
    for _ in range(FRAMES_PER_BURST):
        dy, dx = rng.integers(-1, 2, 2)
        shot = np.roll(base, (dy, dx), axis=(0, 1)) + rng.normal(0, 2, (SIZE, SIZE))
        gray = np.clip(shot, 0, 255).astype(np.uint8)
        frames.append(cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO))
    return frames


def generate(root: Path, seed: int = 0, bursts_per_class: int = 6) -> Path:
    """Write the dataset to `root` (built beside it, then renamed into place)."""
    root = Path(root).resolve()
    building = root.parent / f".{root.name}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    files: dict[str, str] = {}
    for label, emotion in enumerate(EMOTIONS):
        (building / emotion).mkdir(parents=True)
        for burst in range(bursts_per_class):
            for shot, image in enumerate(_burst(seed, label, burst)):
                ok, data = cv2.imencode(".jpg", image, JPEG_PARAMS)
                assert ok
                name = f"{emotion}/{emotion}_{burst:03d}_{shot}.jpg"
                (building / name).write_bytes(data.tobytes())
                files[name] = hashlib.sha256(data.tobytes()).hexdigest()
    manifest = {"version": FLAT_VERSION, "seed": seed, "bursts_per_class": bursts_per_class,
                "files": files}
    (building / MANIFEST).write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")
    if root.exists():
        shutil.rmtree(root)
    building.rename(root)
    return root


def ensure_synthetic_flat(base: Path | None = None) -> Path:
    """The default `synthetic-flat` folder in the cache, generated on first use."""
    root = (Path(base) if base is not None else cache_root()) / f"{NAME}-v{FLAT_VERSION}-s0"
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        intact = manifest.get("version") == FLAT_VERSION and all(
            (root / name).is_file() for name in manifest["files"])
    except (OSError, ValueError, KeyError, AttributeError):
        intact = False
    return root if intact else generate(root)
