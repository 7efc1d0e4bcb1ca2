"""The embedded default dataset `synthetic`: thermal false-colour face frames made from a seed.

A fresh clone has no real data, yet every command must run and every pitfall of the real set
must be demonstrable. So the generator imitates the real set's structure, not just its pixels:
the same folder layout and folder names (the `surpise` typo included), the same five capture
days with the same day<->emotion confound, bursts of near-duplicate frames, a burned-in HUD
whose printed date predicts the label, and emotion cues on the face that are real but subtle.
A benchmark that is fooled by the real set is fooled by this one in the same way.

Output is a pure function of (GENERATOR_VERSION, seed, scale, hud): each burst draws from its
own keyed random stream and PNGs are encoded with fixed parameters, so the bytes are identical
under Python 3.11 and 3.13 with the pinned NumPy/OpenCV.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from common_data.atomic import write_text_atomic
from common_data.data.cache_root import cache_root as project_cache_root
from common_data.data.card import CARD_NAME, SHIPPED_CARDS
from common_data.errors import DataError

# Bump whenever a change alters any output byte: the cache folder name carries it, so stale
# datasets are never reused.
GENERATOR_VERSION = 3
MANIFEST_NAME = "SYNTHETIC.json"
DEFAULT_SEED = 0
DEFAULT_SCALE = 0.8  # about 550 frames: the default comparison stays within minutes on 2 cores
SCALE_RANGE = (0.1, 1.5)  # above 1.5 the busiest day's timeline may run past midnight

FRAME_H, FRAME_W = 320, 240  # portrait, as the real camera writes
SENSOR_H, SENSOR_W = 160, 120  # rendered at sensor size, then upsampled 2x like the camera
PNG_PARAMS = (cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, 0)  # fast, fixed
WORKERS = min(4, os.cpu_count() or 1)

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
PROFILE_PROB = 0.2  # share of bursts shot with the head in profile
AMBIENT_SPREAD_C = 1.0  # burst-to-burst room temperature spread, about the days' own spread


@dataclass(frozen=True)
class Expression:
    """What an emotion changes on the neutral face: temperatures in degrees C, mouth and brow
    geometry in head units (+v points to the chin).

    Directions follow the facial-thermography literature (nose-tip cooling under stress and
    sadness, periorbital and forehead warming in anger, cheek warming in joy, a warm open
    mouth in surprise) and the facial action units (smile, frown, raised or knitted brows).
    Each cue is of the order of the differences between people, so none gives the label away
    alone; EXPRESSION_GAIN scales them all.
    """

    forehead: float = 0.0
    periorbital: float = 0.0
    glabella: float = 0.0
    nose: float = 0.0
    cheeks: float = 0.0
    mouth_width: float = 0.0
    mouth_height: float = 0.0
    mouth_curve: float = 0.0
    mouth_open: float = 0.0
    brow_inner: float = 0.0
    brow_outer: float = 0.0


NEUTRAL_MOUTH = {"width": 0.3, "height": 0.06, "v": 0.55}
NEUTRAL_BROW_V = -0.28

EXPRESSIONS: dict[str, Expression] = {
    "natural": Expression(),
    "happy": Expression(
        cheeks=1.0, nose=-0.5, periorbital=0.3, mouth_width=0.2, mouth_height=0.03,
        mouth_curve=0.3,
    ),
    "sad": Expression(
        nose=-2.0, forehead=-0.6, periorbital=0.8, cheeks=-0.4, mouth_width=-0.04,
        mouth_curve=-0.25, brow_inner=-0.08, brow_outer=0.04,
    ),
    "surprise": Expression(
        forehead=-0.4, periorbital=0.6, nose=-1.0, mouth_width=-0.12, mouth_open=2.0,
        brow_inner=-0.12, brow_outer=-0.12,
    ),
    "angry": Expression(
        forehead=1.5, periorbital=1.0, glabella=1.2, nose=1.0, cheeks=0.8, mouth_width=-0.08,
        mouth_height=-0.03, brow_inner=0.1, brow_outer=-0.02,
    ),
}
# One knob for how learnable the faces are. At 2.0 the baseline CNN (128x128, 20 epochs),
# trained with the HUD masked on the four confounded days, scores about 0.35-0.41 on the
# all-emotion day (chance 0.2) while a random split lets it memorise bursts; gain 1.5 gave
# 0.28-0.37. tests/test_synthetic.py pins the band with a cheap probe.
EXPRESSION_GAIN = 2.0
EXPRESSION_STRENGTH = (0.8, 1.2)  # per-burst: people differ in how much they show

# HUD geometry in frame pixels, where the real camera burns it in; draw_hud never leaves these
# boxes, so common_data.data.preprocess's masks (measured on the real set) hide all of it.
HUD_TOP_ROWS = 42
HUD_BAR_BOX = (188, 45, 240, 291)  # x0, y0, x1, y1 (exclusive): max label, bar, min label
HUD_CROSS_BOX = (106, 146, 135, 175)  # around the frame centre, where the spot is measured


@dataclass(frozen=True)
class Subject:
    """A person's stable traits: what makes two people differ more than two emotions do."""

    half_width: float
    aspect: float
    skin_c: float
    nose_c: float
    cheek_c: float
    forehead_c: float
    canthus_c: float
    mouth_scale: float
    hairline: float
    hair_volume: float
    beard: float
    glasses: bool


@dataclass(frozen=True)
class Shot:
    """One burst: who, which emotion, which palette, on which day, and where each frame falls."""

    day_index: int
    label: str
    subject: int
    slot: int
    palette: str
    times: tuple[datetime, ...]


def _rng(seed: int, *key: int) -> np.random.Generator:
    """A random stream keyed by purpose and position, so no draw depends on generation order."""
    return np.random.default_rng([seed, *key])


def _shot_rng(seed: int, purpose: int, shot: Shot) -> np.random.Generator:
    palette = list(PALETTES).index(shot.palette)
    return _rng(seed, purpose, shot.day_index, CLASSES.index(shot.label), shot.slot, palette)


def palette_lut(name: str) -> np.ndarray:
    """256x3 uint8 RGB table for a palette: control points interpolated linearly."""
    points = PALETTES[name]
    pos = np.array([p for p, _ in points], dtype=np.float64)
    rgb = np.array([c for _, c in points], dtype=np.float64)
    x = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(x, pos, rgb[:, ch]) for ch in range(3)], axis=1)
    return np.rint(table).astype(np.uint8)


def _check_scale(scale: float) -> None:
    lo, hi = SCALE_RANGE
    if not lo <= scale <= hi:
        raise ValueError(f"synthetic scale {scale!r} is out of range: expected {lo} to {hi}")


def _burst_range(scale: float) -> tuple[int, int]:
    """Below scale 0.5 bursts shrink too, but never below two frames: near-duplicates stay."""
    shrink = min(1.0, 2.0 * scale)
    lo = max(2, round(BURST_FRAMES[0] * shrink))
    return lo, max(lo, round(BURST_FRAMES[1] * shrink))


def _subject(seed: int, index: int) -> Subject:
    r = _rng(seed, 3, index)
    return Subject(
        half_width=float(r.uniform(29.0, 35.0)),
        aspect=float(r.uniform(1.2, 1.42)),
        skin_c=float(r.normal(34.2, 0.5)),
        nose_c=float(r.normal(-4.5, 0.8)),
        cheek_c=float(r.normal(0.0, 0.35)),
        forehead_c=float(r.normal(0.4, 0.3)),
        canthus_c=float(r.normal(1.8, 0.3)),
        mouth_scale=float(r.uniform(0.85, 1.15)),
        hairline=float(r.uniform(-0.75, -0.4)),
        hair_volume=float(r.uniform(0.0, 1.0)),
        beard=float(r.uniform(0.0, 1.0)) if r.random() < 0.4 else 0.0,
        glasses=bool(r.random() < 0.15),
    )


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
    _check_scale(scale)
    frames_lo, frames_hi = _burst_range(scale)
    shots: list[Shot] = []
    for d, day in enumerate(DAYS):
        clock = _rng(seed, 2, d)
        blocks = [(label, max(1, round(n * scale))) for label, n in day.blocks]
        slots = max(n for _, n in blocks)
        pool = max(SUBJECT_POOL, slots)
        people = [int(p) for p in _rng(seed, 4, d).choice(pool, size=slots, replace=False)]
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


# ---------------------------------------------------------------- scene (sensor resolution)

_YY, _XX = np.mgrid[0:SENSOR_H, 0:SENSOR_W].astype(np.float64)


def _gauss(u: np.ndarray, v: np.ndarray, cu: float, cv: float, su: float, sv: float) -> np.ndarray:
    return np.exp(-0.5 * (((u - cu) / su) ** 2 + ((v - cv) / sv) ** 2))


def _soft_ellipse(u: np.ndarray, v: np.ndarray, edge: float = 0.08,
                  power: float = 2.0) -> np.ndarray:
    """Coverage of the unit disc (power 2) or a rounded box (power 4) with a soft rim: optics
    blur edges, and a hard mask would alias."""
    radius = (np.abs(u) ** power + np.abs(v) ** power) ** (1.0 / power)
    return np.clip((1.0 - radius) / edge + 0.5, 0.0, 1.0)


def _texture(r: np.random.Generator, sigma: float) -> np.ndarray:
    """Smooth random field (unit spread) for hair, beard, clothing and walls.

    Wide fields are blurred on a coarse grid and upsampled: a sigma-9 blur at full size would
    cost more than the rest of the frame.
    """
    f = max(1.0, sigma / 1.5)
    size = (math.ceil(SENSOR_W / f), math.ceil(SENSOR_H / f))
    noise = r.standard_normal((size[1], size[0])).astype(np.float32)
    field = cv2.GaussianBlur(noise, (0, 0), sigma / f)
    if f > 1.0:
        field = cv2.resize(field, (SENSOR_W, SENSOR_H), interpolation=cv2.INTER_LINEAR)
    field = field.astype(np.float64)
    return field / (field.std() + 1e-9)


def _background(seed: int, day: int, r: np.random.Generator) -> np.ndarray:
    """The room: a day's wall gradient, plus warm objects that change with where the camera
    points, so the background hints at the day (as in the real set) without giving it away."""
    dr = _rng(seed, 5, day)
    amb = DAYS[day].ambient_c + r.normal(0.0, AMBIENT_SPREAD_C)
    field = amb + dr.uniform(-1.5, 1.5) * (_YY / SENSOR_H - 0.5) + 0.4 * _texture(r, 9.0)
    for _ in range(int(r.integers(0, 4))):
        cx, cy = r.uniform(0, SENSOR_W), r.uniform(0, SENSOR_H * 0.8)
        rx, ry = r.uniform(6, 22), r.uniform(6, 30)
        field = field + r.uniform(2.0, 9.0) * _soft_ellipse((_XX - cx) / rx, (_YY - cy) / ry, 0.4)
    return field


def _paint(field: np.ndarray, alpha: np.ndarray, value: np.ndarray | float) -> np.ndarray:
    return field * (1.0 - alpha) + alpha * value


@dataclass(frozen=True)
class Pose:
    """Head placement in sensor pixels, roll in radians, yaw from -1 (left profile) to 1."""

    cx: float
    cy: float
    rx: float
    ry: float
    roll: float
    yaw: float


def _pose(subject: Subject, r: np.random.Generator) -> Pose:
    distance = r.uniform(0.75, 1.12)
    yaw = r.normal(0.0, 0.08)
    if r.random() < PROFILE_PROB:
        yaw = float(r.choice([-1.0, 1.0]) * r.uniform(0.6, 0.85))
    rx = subject.half_width * distance * (1.0 + 0.15 * min(1.0, abs(yaw) / 0.6))  # skull depth
    return Pose(
        cx=SENSOR_W / 2 + r.normal(0.0, 3.0),
        cy=SENSOR_H * 0.46 + r.normal(0.0, 3.0),
        rx=rx,
        ry=rx * subject.aspect,
        roll=math.radians(r.normal(0.0, 4.0)),
        yaw=float(yaw),
    )


def _face_coords(p: Pose) -> tuple[np.ndarray, np.ndarray]:
    """Sensor grid in head units: the face ellipse is the unit disc, +v points to the chin."""
    dx, dy = _XX - p.cx, _YY - p.cy
    c, s = math.cos(p.roll), math.sin(p.roll)
    return (c * dx + s * dy) / p.rx, (-s * dx + c * dy) / p.ry


class _Face:
    """Places features given in frontal head coordinates on a head turned by `yaw`.

    A feature sits at lateral offset `a` and depth `depth` on a roughly spherical head;
    turning the head moves it sideways and hides it once it faces away from the camera,
    which is what turns a frontal face into a profile with one eye and a protruding nose.
    """

    def __init__(self, u: np.ndarray, v: np.ndarray, yaw: float) -> None:
        self.u, self.v = u, v
        theta = yaw * math.pi / 2
        self.cos, self.sin = math.cos(theta), math.sin(theta)
        self.squash = 0.45 + 0.55 * abs(self.cos)

    def spot(self, a: float, depth: float, cv: float, su: float, sv: float) -> np.ndarray:
        lateral = a * self.cos + depth * self.sin
        facing = -a * self.sin + depth * self.cos
        if facing <= 0.0:
            return np.zeros_like(self.u)
        return min(1.0, facing / 0.35) * _gauss(self.u, self.v, lateral, cv, su * self.squash, sv)

    def pair(self, a: float, depth: float, cv: float, su: float, sv: float) -> np.ndarray:
        return self.spot(-a, depth, cv, su, sv) + self.spot(a, depth, cv, su, sv)


def _mouth(face: _Face, e: Expression, scale: float, r: np.random.Generator) -> np.ndarray:
    """Lips as a curved cool band (smile up, frown down) plus the warm inside of an open mouth."""
    centre = face.sin * 0.95
    width = max(0.08, NEUTRAL_MOUTH["width"] + e.mouth_width) * scale
    height = max(0.015, NEUTRAL_MOUTH["height"] + e.mouth_height)
    rel = (face.u - centre) / (width * face.squash)
    line = NEUTRAL_MOUTH["v"] - e.mouth_curve * rel**2
    band = np.exp(-(((face.v - line) / height) ** 2)) * np.clip((1.0 - np.abs(rel)) / 0.25, 0, 1)
    inside = _gauss(face.u, face.v, centre, NEUTRAL_MOUTH["v"] + 0.02, 0.12 * face.squash, 0.11)
    return r.uniform(-3.2, -2.4) * band + e.mouth_open * inside


def _skin(subject: Subject, e: Expression, face: _Face, amb: float,
          r: np.random.Generator) -> np.ndarray:
    """Facial temperature: warm inner canthi and forehead, cool nose, brows, lips and rim, plus
    the emotion's cues."""
    u, v = face.u, face.v
    t = subject.skin_c - 2.5 * np.clip(u * u + v * v, 0.0, 1.0) ** 2
    t = t + (subject.forehead_c + e.forehead) * face.spot(0.0, 0.9, -0.52, 0.45, 0.18)
    t = t + (subject.canthus_c + 0.5 * e.periorbital) * face.pair(0.15, 0.85, -0.12, 0.06, 0.05)
    t = t + e.periorbital * face.pair(0.34, 0.8, -0.12, 0.16, 0.1)
    t = t - 2.5 * face.pair(0.36, 0.8, -0.11, 0.12, 0.06)
    t = t - 1.5 * face.pair(0.22, 0.85, NEUTRAL_BROW_V + e.brow_inner, 0.09, 0.04)
    t = t - 1.5 * face.pair(0.44, 0.75, NEUTRAL_BROW_V + e.brow_outer, 0.09, 0.04)
    t = t + e.glabella * face.spot(0.0, 0.95, -0.22, 0.1, 0.08)
    t = t + (subject.nose_c + e.nose) * face.spot(0.0, 1.1, 0.16, 0.14, 0.19)
    t = t + (subject.cheek_c + e.cheeks) * face.pair(0.45, 0.75, 0.25, 0.15, 0.14)
    t = t + _mouth(face, e, subject.mouth_scale, r)
    if subject.beard:
        chin = np.clip((v - 0.3) / 0.15, 0.0, 1.0)
        t = t - subject.beard * chin * (1.5 + 0.6 * _texture(r, 1.0))
    if subject.glasses:
        lenses = np.clip(face.pair(0.36, 0.8, -0.12, 0.17, 0.11) * 3.0 - 0.8, 0.0, 1.0)
        t = _paint(t, lenses, amb + 4.0)  # glass is opaque to long-wave IR
    return t


def _expression(label: str, r: np.random.Generator) -> Expression:
    """The emotion's cues scaled by how strongly this person shows them in this burst."""
    e = EXPRESSIONS[label]
    k = EXPRESSION_GAIN * r.uniform(*EXPRESSION_STRENGTH)
    return replace(e, **{f.name: k * getattr(e, f.name) for f in fields(e)})


def scene(seed: int, shot: Shot) -> np.ndarray:
    """Temperature field (degrees C, sensor size) shared by every frame of one burst."""
    r = _shot_rng(seed, 1, shot)
    subject = _subject(seed, shot.subject)
    pose = _pose(subject, r)
    field = _background(seed, shot.day_index, r)
    amb = float(np.median(field))
    u, v = _face_coords(pose)

    cloth = amb + r.uniform(4.0, 8.0) + 0.6 * _texture(r, 2.0)
    field = _paint(field, _soft_ellipse(u / 2.3, (v - 2.3) / 1.0, 0.05, 3.0), cloth)
    neck = _soft_ellipse((u + 0.15 * pose.yaw) / 0.46, (v - 1.0) / 0.45, 0.15, 3.0)
    field = _paint(field, neck, subject.skin_c - 1.0)

    hair_c = amb + (subject.skin_c - amb) * 0.45 + 0.8 * _texture(r, 1.2)
    puff = 1.0 + 0.25 * subject.hair_volume
    skull = _soft_ellipse(u / puff, (v + 0.25) / puff, 0.1)
    field = _paint(field, skull * 0.95, hair_c)

    face = _Face(u, v, pose.yaw)
    head = np.maximum(_soft_ellipse(u, v), face.spot(0.0, 1.18, 0.15, 0.1, 0.13) * 1.4)
    skin = _skin(subject, _expression(shot.label, r), face, amb, r)
    skin = skin - 0.8 * face.pair(0.97, 0.05, 0.02, 0.07, 0.14)  # ears run cool
    field = _paint(field, np.clip(head, 0.0, 1.0), skin)

    # Hair over the skin: a hairline that dips at the temples and, on a turned head, the back
    # of the skull behind the ear.
    cover = np.clip((subject.hairline + 0.3 * u * u - v) / 0.1, 0.0, 1.0)
    away = -math.copysign(1.0, pose.yaw) * u
    line = 0.45 + 0.7 * (v + 0.1) + 0.3 * (v + 0.1) ** 2  # from the crown down behind the ear
    back = np.clip((away - line) / 0.12, 0.0, 1.0) * np.clip((0.4 - v) / 0.2, 0.0, 1.0)
    cover = np.maximum(cover, back * min(1.0, abs(pose.yaw) / 0.6))
    field = _paint(field, cover * skull, hair_c)
    return cv2.GaussianBlur(field.astype(np.float32), (0, 0), 0.7)


# ---------------------------------------------------------------- frames (camera)

def _jitter(base: np.ndarray, r: np.random.Generator) -> np.ndarray:
    """A handheld frame: small shift/turn/zoom, a little drift and sensor noise, then upsampled."""
    angle, zoom = r.normal(0.0, 1.0), 1.0 + r.normal(0.0, 0.015)
    m = cv2.getRotationMatrix2D((SENSOR_W / 2, SENSOR_H / 2), angle, zoom)
    m[:, 2] += r.normal(0.0, 1.0, size=2)
    frame = cv2.warpAffine(base, m, (SENSOR_W, SENSOR_H), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    noise = r.normal(r.normal(0.0, 0.1), 0.12, size=frame.shape).astype(np.float32)
    return cv2.resize(frame + noise, (FRAME_W, FRAME_H), interpolation=cv2.INTER_LINEAR)


def _auto_range(temps: np.ndarray, r: np.random.Generator) -> tuple[float, float]:
    """The camera's auto span, rounded to the 0.1 degree it prints on the colour bar."""
    lo = math.floor((float(np.percentile(temps, 0.5)) - r.uniform(0.0, 0.6)) * 10) / 10
    hi = math.ceil((float(temps.max()) + r.uniform(0.0, 0.3)) * 10) / 10
    return lo, max(hi, lo + 1.0)


def _shade(img: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    """Darken a box so white HUD text stays readable on any palette, as the camera does."""
    img[y0:y1, x0:x1] = (img[y0:y1, x0:x1].astype(np.uint16) * 5 // 11).astype(np.uint8)


def _text(img: np.ndarray, s: str, x: int, y: int, size: float, thick: int) -> None:
    cv2.putText(img, s, (x, y), cv2.FONT_HERSHEY_SIMPLEX, size, (255, 255, 255), thick,
                cv2.LINE_AA)


def _clock(t: datetime) -> str:
    """12-hour time without the locale: strftime('%p') would follow the user's LC_TIME."""
    return f"{(t.hour % 12) or 12:02d}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"


def draw_hud(img: np.ndarray, lut_bgr: np.ndarray, spot: float, lo: float, hi: float,
             t: datetime) -> None:
    """Burn in the camera overlay: spot temperature, date/time, battery, colour bar, cross-hair."""
    _shade(img, 0, 2, 96, HUD_TOP_ROWS - 4)
    _text(img, f"{spot:.1f}", 3, 30, 0.85, 2)
    cv2.circle(img, (76, 13), 3, (255, 255, 255), 1, cv2.LINE_AA)
    _text(img, "C", 80, 30, 0.65, 2)
    # Date and time in the real camera's bold face and size (about 72 x 10 px for the date):
    # thinner digits would blur away sooner when frames are downscaled, and the HUD-only
    # probe would understate the shortcut the real set offers.
    _text(img, t.strftime("%Y/%m/%d"), 108, 20, 0.44, 2)
    _text(img, _clock(t), 112, 38, 0.44, 2)
    cv2.rectangle(img, (204, 9), (230, 24), (255, 255, 255), 2)
    cv2.rectangle(img, (231, 13), (233, 20), (255, 255, 255), -1)
    cv2.rectangle(img, (207, 12), (227, 21), (0, 220, 0), -1)

    x0, y0, x1, y1 = HUD_BAR_BOX
    _shade(img, x0, y0, x1 - 1, y0 + 19)
    _text(img, f"{hi:.1f}", x0 + 3, y0 + 15, 0.5, 1)
    bar_top, bar_bottom = y0 + 23, y1 - 30
    ramp = np.linspace(255, 0, bar_bottom - bar_top).round().astype(np.uint8)
    img[bar_top:bar_bottom, 222:232] = lut_bgr[ramp][:, None, :]
    cv2.rectangle(img, (220, bar_top - 1), (233, bar_bottom), (255, 255, 255), 1)
    _shade(img, x0, y1 - 22, x1 - 1, y1 - 1)
    _text(img, f"{lo:.1f}", x0 + 3, y1 - 6, 0.5, 1)

    cx, cy = (HUD_CROSS_BOX[0] + HUD_CROSS_BOX[2]) // 2, (HUD_CROSS_BOX[1] + HUD_CROSS_BOX[3]) // 2
    for colour, thick in (((255, 255, 255), 3), ((0, 0, 0), 1)):
        cv2.rectangle(img, (cx - 6, cy - 6), (cx + 6, cy + 6), colour, thick)
        for dx, dy in ((0, -1), (0, 1), (-1, 0), (1, 0)):
            cv2.line(img, (cx + 7 * dx, cy + 7 * dy), (cx + 12 * dx, cy + 12 * dy), colour, thick)


def render_burst(seed: int, shot: Shot, hud: bool = True) -> Iterator[np.ndarray]:
    """Frames of one burst as BGR uint8 arrays (cv2's order, so the PNGs hold true RGB)."""
    base = scene(seed, shot)
    lut_bgr = np.ascontiguousarray(palette_lut(shot.palette)[:, ::-1])
    r = _shot_rng(seed, 6, shot)
    for t in shot.times:
        temps = _jitter(base, r)
        lo, hi = _auto_range(temps, r)
        idx = np.rint(np.clip((temps - lo) / (hi - lo), 0.0, 1.0) * 255.0).astype(np.uint8)
        img = lut_bgr[idx]
        if hud:
            draw_hud(img, lut_bgr, float(temps[FRAME_H // 2, FRAME_W // 2]), lo, hi, t)
        yield img


def rel_path(shot: Shot, t: datetime) -> str:
    """Where the real camera's export would put this frame: emotion/palette/imgYYYYMMDD_HHMMSS."""
    return f"{EMOTION_FOLDERS[shot.label]}/{shot.palette}/img{t:%Y%m%d_%H%M%S}.png"


# ---------------------------------------------------------------- writing

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
    params = (
        FRAME_H, FRAME_W, SENSOR_H, SENSOR_W, PNG_PARAMS, EMOTION_FOLDERS, PALETTES_BY_CLASS,
        PALETTES, DAYS, SUBJECT_POOL, BURST_FRAMES, FRAME_GAP_S, BURST_GAP_S, BLOCK_GAP_S,
        PROFILE_PROB, AMBIENT_SPREAD_C, NEUTRAL_MOUTH, NEUTRAL_BROW_V, EXPRESSIONS,
        EXPRESSION_GAIN, EXPRESSION_STRENGTH, HUD_TOP_ROWS, HUD_BAR_BOX, HUD_CROSS_BOX,
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
    _check_scale(scale)
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
        _check_scale(DEFAULT_SCALE)
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
                                 description=__doc__.split("\n")[0])
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


if __name__ == "__main__":
    sys.exit(main())
