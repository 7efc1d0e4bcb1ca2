"""What the camera makes of a burst's temperature field: handheld jitter and noise, the
auto range, the false-colour palette and the burned-in HUD."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime

import cv2
import numpy as np

from common_data.data.synthetic.faces import scene
from common_data.data.synthetic.scenario import (
    FRAME_H,
    FRAME_W,
    SENSOR_H,
    SENSOR_W,
    Shot,
    palette_lut,
    shot_rng,
)

# HUD geometry in frame pixels, where the real camera burns it in; draw_hud never leaves these
# boxes, so common_data.data.preprocess's masks (measured on the real set) hide all of it.
HUD_TOP_ROWS = 42
HUD_BAR_BOX = (188, 45, 240, 291)  # x0, y0, x1, y1 (exclusive): max label, bar, min label
HUD_CROSS_BOX = (106, 146, 135, 175)  # around the frame centre, where the spot is measured


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
    r = shot_rng(seed, 6, shot)
    for t in shot.times:
        temps = _jitter(base, r)
        lo, hi = _auto_range(temps, r)
        idx = np.rint(np.clip((temps - lo) / (hi - lo), 0.0, 1.0) * 255.0).astype(np.uint8)
        img = lut_bgr[idx]
        if hud:
            draw_hud(img, lut_bgr, float(temps[FRAME_H // 2, FRAME_W // 2]), lo, hi, t)
        yield img

