"""What the synthetic camera captures and when: emotion folders, palettes, the five capture
days with the real set's day<->emotion confound, and the burst plan with each frame's time.

Every draw comes from a random stream keyed by purpose and position (`rng`), so no burst's
content depends on the order in which bursts are generated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

DEFAULT_SEED = 0
SCALE_RANGE = (0.1, 1.5)  # above 1.5 the busiest day's timeline may run past midnight
FRAME_H, FRAME_W = 320, 240  # portrait, as the real camera writes
SENSOR_H, SENSOR_W = 160, 120  # rendered at sensor size, then upsampled 2x like the camera


# Class -> folder name on disk; the real set's typo is kept so the alias path is exercised.
EMOTION_FOLDERS: dict[str, str] = {
    "angry": "angry",
    "happy": "happy",
    "natural": "natural",
    "sad": "sad",
    "surprise": "surpise",
}
CLASSES: tuple[str, ...] = tuple(EMOTION_FOLDERS)  # the order of the card's `classes.names`

# IRNBOW only ever under angry, IRON never under angry: a palette<->label quirk of the real set.
PALETTES_BY_CLASS: dict[str, tuple[str, ...]] = {
    c: ("ICEBLUE", "IRNBOW" if c == "angry" else "IRON", "RAINBOW", "Red Hot", "White Hot")
    for c in CLASSES
}

# False-colour maps as (position, (R, G, B)) control points, cold -> hot, read off the real
# camera's colour bars.
PALETTES: dict[str, tuple[tuple[float, tuple[int, int, int]], ...]] = {
    "White Hot": ((0.0, (0, 0, 0)), (0.5, (122, 122, 122)), (1.0, (255, 255, 255))),
    "ICEBLUE": (
        (0.0, (22, 26, 120)),
        (0.1, (14, 16, 60)),
        (0.2, (18, 18, 22)),
        (0.6, (140, 142, 146)),
        (1.0, (255, 255, 255)),
    ),
    "IRON": (
        (0.0, (0, 0, 18)),
        (0.12, (34, 0, 120)),
        (0.3, (128, 0, 150)),
        (0.45, (200, 30, 100)),
        (0.6, (236, 92, 22)),
        (0.78, (250, 172, 0)),
        (0.9, (255, 230, 64)),
        (1.0, (255, 255, 224)),
    ),
    "IRNBOW": (
        (0.0, (0, 0, 44)),
        (0.15, (24, 12, 168)),
        (0.35, (142, 10, 160)),
        (0.5, (216, 40, 80)),
        (0.65, (246, 112, 12)),
        (0.85, (255, 212, 30)),
        (1.0, (255, 255, 255)),
    ),
    "RAINBOW": (
        (0.0, (10, 8, 48)),
        (0.15, (30, 40, 170)),
        (0.3, (0, 130, 150)),
        (0.4, (20, 170, 60)),
        (0.52, (230, 220, 20)),
        (0.63, (245, 130, 20)),
        (0.72, (225, 30, 40)),
        (0.86, (230, 80, 150)),
        (1.0, (250, 226, 240)),
    ),
    "Red Hot": (
        (0.0, (10, 10, 10)),
        (0.58, (244, 244, 244)),
        (0.7, (250, 234, 90)),
        (0.82, (245, 150, 30)),
        (1.0, (228, 20, 20)),
    ),
}


@dataclass(frozen=True)
class Day:
    """One capture session; `blocks` are (class, subjects) in capture order."""

    date: str
    start: str
    ambient_c: float
    blocks: tuple[tuple[str, int], ...]


# The real set's five days and their confound: 11-26 only happy/natural, 12-03 mostly angry,
# 12-05 only sad/surprise, 12-10 a little sad/surprise, and only 2024-03-03 holds all five.
DAYS: tuple[Day, ...] = (
    Day("2023-11-26", "19:42:10", 21.5, (("natural", 5), ("happy", 5))),
    Day("2023-12-03", "19:31:40", 22.5, (("happy", 1), ("natural", 1), ("angry", 7))),
    Day("2023-12-05", "19:48:25", 20.5, (("surprise", 5), ("sad", 5))),
    Day("2023-12-10", "19:03:50", 22.0, (("sad", 1), ("surprise", 1))),
    Day(
        "2024-03-03",
        "01:12:30",
        20.0,
        (("angry", 3), ("happy", 3), ("natural", 3), ("sad", 3), ("surprise", 3)),
    ),
)

SUBJECT_POOL = 12  # people, who recur across days so identity alone does not give the label
BURST_FRAMES = (2, 4)  # frames per burst at scale >= 0.5 (inclusive range)
FRAME_GAP_S = (2, 5)  # a few seconds between frames of one burst
BURST_GAP_S = (70, 200)  # minutes between bursts: palette switch, re-aim
BLOCK_GAP_S = (300, 900)  # between emotion blocks


@dataclass(frozen=True)
class Shot:
    """One burst: who, which emotion, which palette, on which day, and where each frame falls."""

    day_index: int
    label: str
    subject: int
    slot: int
    palette: str
    times: tuple[datetime, ...]


def rng(seed: int, *key: int) -> np.random.Generator:
    """A random stream keyed by purpose and position, so no draw depends on generation order."""
    return np.random.default_rng([seed, *key])


def shot_rng(seed: int, purpose: int, shot: Shot) -> np.random.Generator:
    palette = list(PALETTES).index(shot.palette)
    return rng(seed, purpose, shot.day_index, CLASSES.index(shot.label), shot.slot, palette)


def palette_lut(name: str) -> np.ndarray:
    """256x3 uint8 RGB table for a palette: control points interpolated linearly."""
    points = PALETTES[name]
    pos = np.array([p for p, _ in points], dtype=np.float64)
    rgb = np.array([c for _, c in points], dtype=np.float64)
    x = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(x, pos, rgb[:, ch]) for ch in range(3)], axis=1)
    return np.rint(table).astype(np.uint8)


def check_scale(scale: float) -> None:
    lo, hi = SCALE_RANGE
    if not lo <= scale <= hi:
        raise ValueError(f"synthetic scale {scale!r} is out of range: expected {lo} to {hi}")


def _burst_range(scale: float) -> tuple[int, int]:
    """Below scale 0.5 bursts shrink too, but never below two frames: near-duplicates stay."""
    shrink = min(1.0, 2.0 * scale)
    lo = max(2, round(BURST_FRAMES[0] * shrink))
    return lo, max(lo, round(BURST_FRAMES[1] * shrink))



def _gap(clock: np.random.Generator, bounds: tuple[int, int]) -> timedelta:
    return timedelta(seconds=int(clock.integers(*bounds, endpoint=True)))


def _burst_times(clock: np.random.Generator, start: datetime, frames: int) -> tuple[datetime, ...]:
    times = [start]
    for _ in range(frames - 1):
        times.append(times[-1] + _gap(clock, FRAME_GAP_S))
    return tuple(times)


def plan(seed: int = DEFAULT_SEED, scale: float = 1.0) -> list[Shot]:
    """Every burst in capture order, with its frame times; pure function of (seed, scale).

    A day runs emotion block by emotion block; within a block each participant sits for one
    burst per palette. Participants are drawn from a pool shared by all days, so people recur
    with different emotions and identity alone does not give the label.
    """
    check_scale(scale)
    frames_lo, frames_hi = _burst_range(scale)
    shots: list[Shot] = []
    for d, day in enumerate(DAYS):
        clock = rng(seed, 2, d)
        blocks = [(label, max(1, round(n * scale))) for label, n in day.blocks]
        slots = max(n for _, n in blocks)
        pool = max(SUBJECT_POOL, slots)
        people = [int(p) for p in rng(seed, 4, d).choice(pool, size=slots, replace=False)]
        t = datetime.fromisoformat(f"{day.date}T{day.start}")
        for label, n in blocks:
            for slot in range(n):
                for palette in PALETTES_BY_CLASS[label]:
                    times = _burst_times(clock, t, int(clock.integers(frames_lo, frames_hi + 1)))
                    shots.append(Shot(d, label, people[slot], slot, palette, times))
                    t = times[-1] + _gap(clock, BURST_GAP_S)
            t += _gap(clock, BLOCK_GAP_S)
        if t.date().isoformat() != day.date:
            raise ValueError(f"synthetic scale {scale!r} runs day {day.date} past midnight")
    return shots



def rel_path(shot: Shot, t: datetime) -> str:
    """Where the real camera's export would put this frame: emotion/palette/imgYYYYMMDD_HHMMSS."""
    return f"{EMOTION_FOLDERS[shot.label]}/{shot.palette}/img{t:%Y%m%d_%H%M%S}.png"

