"""The synthetic default dataset must reproduce the real set's structure and pitfalls.

These tests read the generated files the way an outsider would (cv2 + file names), without
discovery.py, so a bug shared by the generator and the loader cannot hide itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from common_data import synthetic as syn
from common_data.classes import CLASSES
from common_data.errors import DataError

NAME = re.compile(r"^img(\d{8}_\d{6})\.png$")
FOLDER_CLASS = {folder: label for label, folder in syn.EMOTION_FOLDERS.items()}
LAST_DAY = "2024-03-03"


@dataclass(frozen=True)
class Frame:
    rel: str
    label: str
    palette: str
    time: datetime

    @property
    def day(self) -> str:
        return self.time.date().isoformat()


def _frames(root: Path) -> list[Frame]:
    out = []
    for path in sorted(root.glob("*/*/*")):
        m = NAME.match(path.name)
        assert m, f"unexpected file name {path}"
        out.append(Frame(path.relative_to(root).as_posix(), FOLDER_CLASS[path.parent.parent.name],
                         path.parent.name, datetime.strptime(m.group(1), "%Y%m%d_%H%M%S")))
    return out


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _hud_mask() -> np.ndarray:
    """Every pixel the HUD may touch, from the geometry the generator declares."""
    m = np.zeros((syn.FRAME_H, syn.FRAME_W), bool)
    m[: syn.HUD_TOP_ROWS] = True
    x0, y0, x1, y1 = syn.HUD_BAR_BOX
    m[y0:y1, x0:x1] = True
    x0, y0, x1, y1 = syn.HUD_CROSS_BOX
    m[y0:y1, x0:x1] = True
    return m


def _decode(img: np.ndarray, palette: str) -> np.ndarray:
    """False colour back to the 0..255 scale position, as radiometric software would; pixels
    whose colour is not in the palette (the HUD) become 0."""
    lut = syn.palette_lut(palette)[:, ::-1].astype(np.int64)
    keys = (lut[:, 0] << 16) | (lut[:, 1] << 8) | lut[:, 2]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    px = img.astype(np.int64)
    k = (px[..., 0] << 16) | (px[..., 1] << 8) | px[..., 2]
    pos = np.clip(np.searchsorted(sorted_keys, k), 0, 255)
    return np.where(sorted_keys[pos] == k, order[pos], 0).astype(np.uint8)


@dataclass
class Loaded:
    frames: list[Frame]
    labels: np.ndarray
    days: np.ndarray
    scale_pos: np.ndarray  # N x 64 x 64 decoded scale position, HUD masked
    thumbs: np.ndarray  # N x 256 mean-normalised 16x16 grayscale, HUD masked


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return syn.ensure_synthetic(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def frames(root: Path) -> list[Frame]:
    return _frames(root)


@pytest.fixture(scope="module")
def loaded(root: Path, frames: list[Frame]) -> Loaded:
    hud = _hud_mask()
    scale_pos, thumbs = [], []
    for f in frames:
        img = cv2.imread(str(root / f.rel), cv2.IMREAD_UNCHANGED)
        assert img is not None and img.shape == (320, 240, 3) and img.dtype == np.uint8, f.rel
        pos = _decode(img, f.palette)
        pos[hud] = 0
        scale_pos.append(cv2.resize(pos, (64, 64), interpolation=cv2.INTER_AREA))
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        gray[hud] = 0
        t = cv2.resize(gray, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float64).ravel()
        thumbs.append((t - t.mean()) / (t.std() + 1e-9))
    return Loaded(frames, np.array([CLASSES.index(f.label) for f in frames]),
                  np.array([f.day for f in frames]), np.stack(scale_pos), np.stack(thumbs))


# ---------------------------------------------------------------- layout and names

def test_layout_matches_the_real_set(root: Path, frames: list[Frame]) -> None:
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [
        "angry", "happy", "natural", "sad", "surpise"]
    for emotion in root.iterdir():
        if emotion.is_dir():
            palettes = {p.name for p in emotion.iterdir()}
            label = FOLDER_CLASS[emotion.name]
            assert palettes == set(syn.PALETTES_BY_CLASS[label])
    palettes = Counter(f.palette for f in frames)
    assert set(palettes) == {"ICEBLUE", "IRNBOW", "IRON", "RAINBOW", "Red Hot", "White Hot"}
    assert {f.label for f in frames if f.palette == "IRNBOW"} == {"angry"}
    assert "angry" not in {f.label for f in frames if f.palette == "IRON"}


def test_default_size_and_manifest(root: Path, frames: list[Frame]) -> None:
    assert 600 <= len(frames) <= 800
    per_class = Counter(f.label for f in frames)
    assert set(per_class) == set(CLASSES)
    assert max(per_class.values()) / min(per_class.values()) < 1.4
    m = syn.read_manifest(root)
    assert m is not None and m["counts"]["frames"] == len(frames)
    assert m["generator_version"] == syn.GENERATOR_VERSION and m["seed"] == 0
    assert set(m["files"]) == {f.rel for f in frames}
    assert root.name == f"synthetic-v{syn.GENERATOR_VERSION}-s0"


def test_bursts_are_seconds_apart_and_sessions_minutes_apart(frames: list[Frame]) -> None:
    by_folder: dict[str, list[datetime]] = defaultdict(list)
    for f in frames:
        by_folder[f"{f.label}/{f.palette}"].append(f.time)
    all_gaps: list[float] = []
    for times in by_folder.values():
        times.sort()
        assert len(set(times)) == len(times)
        all_gaps += [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    gaps = np.array(all_gaps)
    assert not np.any((gaps > 6) & (gaps < 60)), "a gap neither inside a burst nor between"
    within = gaps[gaps <= 6]
    assert within.size and within.min() >= 2
    bursts = 1 + (gaps > 60).sum() + 0  # per folder: counted below
    n_bursts = sum(1 + sum((b - a).total_seconds() > 60 for a, b in zip(t, t[1:], strict=False))
                   for t in by_folder.values())
    assert bursts > 0 and 2 <= len(frames) / n_bursts <= 5


def test_day_confound_mirrors_the_real_set(frames: list[Frame]) -> None:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for f in frames:
        table[f.day][f.label] += 1
    assert sorted(table) == ["2023-11-26", "2023-12-03", "2023-12-05", "2023-12-10", LAST_DAY]
    assert set(table["2023-11-26"]) == {"happy", "natural"}
    assert set(table["2023-12-05"]) == {"sad", "surprise"}
    assert table["2023-12-03"].most_common(1)[0][0] == "angry"
    assert table["2023-12-03"]["angry"] > 0.6 * sum(table["2023-12-03"].values())
    last = table[LAST_DAY]
    assert set(last) == set(CLASSES)
    assert max(last.values()) / min(last.values()) <= 1.5
    assert 0.12 <= sum(last.values()) / len(frames) <= 0.35


# ---------------------------------------------------------------- pixels

def test_palettes_are_distinct_false_colour_maps() -> None:
    luts = {name: syn.palette_lut(name) for name in syn.PALETTES}
    white = luts["White Hot"].astype(int)
    assert (white[:, 0] == white[:, 1]).all() and (white[:, 1] == white[:, 2]).all()
    assert (np.diff(white[:, 0]) >= 0).all() and white[0, 0] == 0 and white[-1, 0] == 255
    assert luts["Red Hot"][-1, 0] > 200 and luts["Red Hot"][-1, 1] < 60  # hottest is red
    assert luts["ICEBLUE"][0, 2] > 2 * luts["ICEBLUE"][0, 0]  # coldest is blue
    for name, lut in luts.items():
        assert lut.shape == (256, 3) and lut.dtype == np.uint8, name
        brightness = lut.astype(float) @ [0.299, 0.587, 0.114]
        assert brightness[-1] > brightness[0] + 100, name
    names = list(luts)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(luts[a].astype(int) - luts[b].astype(int)).mean() > 10, (a, b)


def test_frames_use_their_palette_outside_the_hud(root: Path, frames: list[Frame]) -> None:
    hud = _hud_mask()
    for f in frames[:: max(1, len(frames) // 40)]:
        img = cv2.imread(str(root / f.rel))
        lut = syn.palette_lut(f.palette)[:, ::-1]
        colours = {tuple(c) for c in lut}
        scene = {tuple(c) for c in img[~hud].reshape(-1, 3)[::97]}
        assert scene <= colours, f.rel


def test_hud_stays_inside_its_boxes_and_prints_the_date(tmp_path: Path) -> None:
    with_hud = syn.generate(tmp_path / "hud", seed=5, scale=0.1)
    without = syn.generate(tmp_path / "bare", seed=5, scale=0.1, hud=False)
    hud = _hud_mask()
    names = sorted(p.relative_to(with_hud).as_posix() for p in with_hud.glob("*/*/*.png"))
    assert names == sorted(p.relative_to(without).as_posix() for p in without.glob("*/*/*.png"))
    top_bands = {}
    for name in names:
        a, b = cv2.imread(str(with_hud / name)), cv2.imread(str(without / name))
        changed = (a != b).any(axis=2)
        assert changed.any() and not changed[~hud].any(), name
        top_bands.setdefault(name.split("img")[1][:8], a[:42].astype(int))
    bands = list(top_bands.values())
    assert len(bands) == 5 and np.abs(bands[0] - bands[-1]).sum() > 0


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a = syn.generate(tmp_path / "a", seed=7, scale=0.1)
    b = syn.generate(tmp_path / "b", seed=7, scale=0.1)
    c = syn.generate(tmp_path / "c", seed=8, scale=0.1)
    assert _tree_digest(a) == _tree_digest(b)
    assert _tree_digest(a) != _tree_digest(c)
    assert syn.read_manifest(a)["digest"] == syn.read_manifest(b)["digest"]


# ---------------------------------------------------------------- learnability and leakage

def _random_split(n: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(42).permutation(n)
    return np.sort(perm[n // 5:]), np.sort(perm[: n // 5])


def _day_split(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.flatnonzero(days != LAST_DAY), np.flatnonzero(days == LAST_DAY)


def _conv_features(images: np.ndarray, filters: int = 64) -> np.ndarray:
    """Random 5x5 filters, ReLU and coarse pooling: a CNN's first layer without training, so
    the probe tolerates the small shifts a pixel-wise model cannot."""
    w = np.random.default_rng(0).standard_normal((25, filters))
    w -= w.mean(axis=0)
    w /= np.linalg.norm(w, axis=0)
    x = images.astype(np.float32) / 255.0
    patches = np.lib.stride_tricks.sliding_window_view(x, (5, 5), axis=(1, 2))[:, ::2, ::2]
    n, h, wd = patches.shape[:3]
    act = np.maximum(patches.reshape(n, h, wd, 25) @ w.astype(np.float32) - 0.05, 0.0)
    grid = act[:, : h // 3 * 3, : wd // 3 * 3].reshape(n, 3, h // 3, 3, wd // 3, filters)
    return np.concatenate([grid.mean(axis=(2, 4)).reshape(n, -1), act.max(axis=(1, 2))], axis=1)


def _ridge_accuracy(x: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray,
                    lam: float = 100.0) -> float:
    mu, sd = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6
    a, b = (x[train] - mu) / sd, (x[val] - mu) / sd
    targets = np.eye(len(CLASSES))[y[train]] * 2 - 1
    alpha = np.linalg.solve(a @ a.T + lam * np.eye(len(a)), targets)
    return float(((b @ (a.T @ alpha)).argmax(axis=1) == y[val]).mean())


def test_faces_carry_a_learnable_but_imperfect_emotion_signal(loaded: Loaded) -> None:
    x = _conv_features(loaded.scale_pos).astype(np.float64)
    train, val = _day_split(loaded.days)
    held_out_day = _ridge_accuracy(x, loaded.labels, train, val)
    assert 0.3 <= held_out_day <= 0.9, held_out_day


def test_random_split_leaks_near_duplicates_the_day_split_does_not(loaded: Loaded) -> None:
    def near_copy_share(train: np.ndarray, val: np.ndarray) -> float:
        t, v = loaded.thumbs[train], loaded.thumbs[val]
        d2 = (v**2).sum(1)[:, None] + (t**2).sum(1)[None] - 2 * v @ t.T
        nearest = np.sqrt(np.maximum(d2.min(axis=1), 0.0) / t.shape[1])
        return float((nearest < 0.15).mean())

    random_share = near_copy_share(*_random_split(len(loaded.labels)))
    day_share = near_copy_share(*_day_split(loaded.days))
    assert random_share > 0.8 and day_share < 0.1, (random_share, day_share)


# ---------------------------------------------------------------- cache behaviour

def test_ensure_reuses_and_repairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syn, "DEFAULT_SCALE", 0.1)
    root = syn.ensure_synthetic(tmp_path)
    manifest = root / syn.MANIFEST_NAME
    stamp = manifest.stat().st_mtime_ns
    assert syn.ensure_synthetic(tmp_path) == root and manifest.stat().st_mtime_ns == stamp

    victim = next(root.glob("*/*/*.png"))
    victim.unlink()
    assert not syn.is_intact(root, scale=0.1)
    syn.ensure_synthetic(tmp_path)
    assert victim.is_file() and syn.is_intact(root, scale=0.1)

    manifest.write_text(json.dumps({"generator_version": -1}))
    syn.ensure_synthetic(tmp_path)
    assert syn.read_manifest(root)["generator_version"] == syn.GENERATOR_VERSION


def test_env_var_picks_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THERMAL_BENCH_CACHE", str(tmp_path / "env-cache"))
    assert syn.default_cache_root() == tmp_path / "env-cache"


def test_generate_never_overwrites_foreign_folders(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a synthetic dataset"):
        syn.generate(foreign, scale=0.1)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_scale_out_of_range_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="out of range"):
        syn.generate(tmp_path / "x", scale=50.0)


def test_cli_writes_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert syn.main(["--out", str(tmp_path / "cli"), "--scale", "0.1", "--seed", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == len(list((tmp_path / "cli").glob("*/*/*.png")))
