"""The temperature field of one burst at sensor resolution: a room, a person with stable
traits, a head pose, and the emotion's thermal and geometric cues on the face."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import cv2
import numpy as np

from common_data.data.synthetic.scenario import DAYS, SENSOR_H, SENSOR_W, Shot, rng, shot_rng

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



def _subject(seed: int, index: int) -> Subject:
    r = rng(seed, 3, index)
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
    dr = rng(seed, 5, day)
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
    r = shot_rng(seed, 1, shot)
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

