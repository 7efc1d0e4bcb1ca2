"""Writing the synthetic dataset: PNGs with fixed encoder settings, a manifest of every file's
hash, the dataset card, an atomic swap into place, and the cached default copy."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from common_data.atomic import write_text_atomic
from common_data.data.cache_root import cache_root as project_cache_root
from common_data.data.card import CARD_NAME, SHIPPED_CARDS
from common_data.data.synthetic import camera, faces, scenario
from common_data.data.synthetic.camera import render_burst
from common_data.data.synthetic.scenario import (
    CLASSES,
    DAYS,
    DEFAULT_SEED,
    EMOTION_FOLDERS,
    FRAME_H,
    FRAME_W,
    SCALE_RANGE,
    Shot,
    check_scale,
    plan,
    rel_path,
)
from common_data.errors import DataError

# Bump whenever a change alters any output byte: the cache folder name carries it, so stale
# datasets are never reused.
GENERATOR_VERSION = 3
MANIFEST_NAME = "SYNTHETIC.json"
DEFAULT_SCALE = 0.8  # about 550 frames: the default comparison stays within minutes on 2 cores
PNG_PARAMS = (cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, 0)  # fast, fixed
WORKERS = min(4, os.cpu_count() or 1)


def _encode(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img, list(PNG_PARAMS))
    if not ok:
        raise DataError("cv2.imencode failed to encode a synthetic frame as PNG")
    return buf.tobytes()


def _counts(shots: Sequence[Shot]) -> dict[str, object]:
    by: dict[str, Counter[str]] = {k: Counter() for k in ("class", "day", "palette", "day_class")}
    for s in shots:
        n = len(s.times)
        day = DAYS[s.day_index].date
        by["class"][s.label] += n
        by["day"][day] += n
        by["palette"][s.palette] += n
        by["day_class"][f"{day}/{s.label}"] += n
    return {
        "frames": sum(len(s.times) for s in shots),
        "bursts": len(shots),
        **{f"by_{k}": dict(sorted(v.items())) for k, v in by.items()},
    }


def _recipe() -> str:
    """Fingerprint of every generation parameter: a tuned constant invalidates cached copies
    even when GENERATOR_VERSION was not bumped (code changes still need the bump)."""
    # Read through the modules at call time, so that retuning a constant in the module that
    # defines and uses it (a test patches faces.EXPRESSION_GAIN) changes the recipe. A
    # constant another module imports by name (scenario.FRAME_H in camera) is not retuned by
    # patching its defining module: the recipe would change but not the frames.
    params = (
        scenario.FRAME_H, scenario.FRAME_W, scenario.SENSOR_H, scenario.SENSOR_W, PNG_PARAMS,
        scenario.EMOTION_FOLDERS, scenario.PALETTES_BY_CLASS, scenario.PALETTES, scenario.DAYS,
        scenario.SUBJECT_POOL, scenario.BURST_FRAMES, scenario.FRAME_GAP_S, scenario.BURST_GAP_S,
        scenario.BLOCK_GAP_S, faces.PROFILE_PROB, faces.AMBIENT_SPREAD_C, faces.NEUTRAL_MOUTH,
        faces.NEUTRAL_BROW_V, faces.EXPRESSIONS, faces.EXPRESSION_GAIN, faces.EXPRESSION_STRENGTH,
        camera.HUD_TOP_ROWS, camera.HUD_BAR_BOX, camera.HUD_CROSS_BOX,
    )
    return hashlib.sha256(repr(params).encode()).hexdigest()


def _manifest(seed: int, scale: float, hud: bool, shots: Sequence[Shot],
              files: dict[str, dict[str, object]]) -> dict[str, object]:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{files[name]['sha256']}\n".encode())
    return {
        "generator": "common_data.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "recipe": _recipe(),
        "seed": seed,
        "scale": scale,
        "hud": hud,
        "frame_shape": [FRAME_H, FRAME_W, 3],
        "classes": {c: EMOTION_FOLDERS[c] for c in CLASSES},
        "days": [d.date for d in DAYS],
        "counts": _counts(shots),
        "digest": digest.hexdigest(),
        "files": files,
    }


def _encode_burst(seed: int, shot: Shot, hud: bool) -> list[tuple[str, bytes]]:
    return [(rel_path(shot, t), _encode(img))
            for t, img in zip(shot.times, render_burst(seed, shot, hud), strict=True)]


def _write(folder: Path, seed: int, scale: float, hud: bool) -> None:
    """Render bursts on a few threads (OpenCV and NumPy release the GIL); every burst owns its
    random stream, so the bytes do not depend on scheduling."""
    shots = plan(seed, scale)
    files: dict[str, dict[str, object]] = {}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        bursts = pool.map(lambda shot: _encode_burst(seed, shot, hud), shots)
        for shot, encoded in zip(shots, bursts, strict=True):
            (folder / EMOTION_FOLDERS[shot.label] / shot.palette).mkdir(parents=True,
                                                                          exist_ok=True)
            for name, data in encoded:
                if name in files:
                    raise DataError(f"synthetic plan gives two frames the same name: {name}")
                (folder / name).write_bytes(data)
                files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    text = json.dumps(_manifest(seed, scale, hud, shots, files), indent=1, sort_keys=True)
    (folder / MANIFEST_NAME).write_text(text + "\n", encoding="utf-8")
    (folder / CARD_NAME).write_text(card_text(hud), encoding="utf-8")


def card_text(hud: bool) -> str:
    """The card a generated folder carries: the overlay is declared only where it is drawn."""
    name = "synthetic.toml" if hud else "synthetic-no-overlay.toml"
    return (SHIPPED_CARDS / name).read_text(encoding="utf-8")


def _replaceable(root: Path) -> bool:
    """Only an earlier synthetic output or an empty folder may be replaced: never user data."""
    if not root.exists():
        return True
    return root.is_dir() and ((root / MANIFEST_NAME).is_file() or not any(root.iterdir()))


def generate(root: Path, *, seed: int = DEFAULT_SEED, scale: float = 1.0, hud: bool = True) -> Path:
    """Write the dataset to `root` atomically and return it (absolute).

    `root` may be missing, empty or an earlier synthetic output; anything else is refused, so a
    mistyped --out never deletes someone's data.
    """
    root = Path(root).resolve()
    check_scale(scale)
    if not _replaceable(root):
        raise DataError(f"{root}: folder exists and is not a synthetic dataset; refusing to "
                        f"overwrite it (expected an empty folder or one holding {MANIFEST_NAME})")
    _build_and_swap(root, seed, scale, hud)
    return root


def _build_and_swap(root: Path, seed: int, scale: float, hud: bool) -> None:
    """Build in a hidden sibling, then rename into place: a crash or a concurrent reader never
    sees half a dataset, and whatever was at `root` is removed only once the new one exists."""
    root.parent.mkdir(parents=True, exist_ok=True)
    building = root.parent / f".{root.name}.building-{os.getpid()}"
    stale = root.parent / f".{root.name}.old-{os.getpid()}"
    for leftover in (building, stale):
        shutil.rmtree(leftover, ignore_errors=True)
    building.mkdir()
    try:
        _write(building, seed, scale, hud)
        if root.is_dir():
            root.rename(stale)
        elif root.exists():
            root.unlink()
        building.rename(root)
    finally:
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(stale, ignore_errors=True)


def read_manifest(root: Path) -> dict[str, object] | None:
    """The folder's manifest, or None when missing or unreadable."""
    try:
        data = json.loads((Path(root) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_intact(root: Path, *, seed: int = DEFAULT_SEED, scale: float = 1.0,
              hud: bool = True) -> bool:
    """Manifest matches this generator and these parameters, and every listed file is there
    with its size.

    Sizes, not hashes: this runs before every default run, and discovery hashes the bytes anyway.
    """
    root = Path(root)
    m = read_manifest(root)
    expected = {"generator_version": GENERATOR_VERSION, "recipe": _recipe(), "seed": seed,
                "scale": scale, "hud": hud}
    if m is None or any(m.get(k) != v for k, v in expected.items()):
        return False
    files = m.get("files")
    if not isinstance(files, dict):
        return False
    on_disk = {p.relative_to(root).as_posix(): p for p in root.glob("*/*/*.png")}
    if set(on_disk) != set(files):
        return False
    return all(on_disk[n].stat().st_size == files[n].get("bytes") for n in files)


def ensure_synthetic(cache_root: Path | None = None) -> Path:
    """The default dataset folder, generated on first use and regenerated if damaged.

    The folder lives in the cache and belongs to the generator, so a damaged one is replaced
    whatever it holds. Two processes may race to build it (both twins' test envs start cold);
    the loser's rename fails, and its error only matters if the winner's copy is not intact.
    """
    base = Path(cache_root) if cache_root is not None else project_cache_root()
    root = (base / f"synthetic-v{GENERATOR_VERSION}-s{DEFAULT_SEED}").resolve()
    if not is_intact(root, seed=DEFAULT_SEED, scale=DEFAULT_SCALE):
        check_scale(DEFAULT_SCALE)
        try:
            _build_and_swap(root, DEFAULT_SEED, DEFAULT_SCALE, True)
        except OSError:
            if not is_intact(root, seed=DEFAULT_SEED, scale=DEFAULT_SCALE):
                raise
    card = root / CARD_NAME
    if not card.is_file() or card.read_text(encoding="utf-8") != card_text(True):
        # a folder generated before cards existed gets its card, not a rebuild
        write_text_atomic(card, card_text(True))
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m common_data.data.synthetic --out DIR`: write a dataset, print its counts as
    JSON."""
    ap = argparse.ArgumentParser(prog="python -m common_data.data.synthetic",
                                 description="Write the embedded synthetic dataset: thermal "
                                 "false-colour face frames made from a seed.")
    ap.add_argument("--out", type=Path, required=True,
                    help="folder to write (an earlier synthetic output there is replaced)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--scale", type=float, default=DEFAULT_SCALE,
                    help=f"dataset size factor, {SCALE_RANGE[0]} to {SCALE_RANGE[1]}")
    ap.add_argument("--no-hud", action="store_true", help="frames without the burned-in overlay")
    args = ap.parse_args(argv)
    try:
        root = generate(args.out, seed=args.seed, scale=args.scale, hud=not args.no_hud)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    m = read_manifest(root) or {}
    print(json.dumps({"root": str(root), "digest": m.get("digest"), **m.get("counts", {})},
                     indent=1))
    return 0
