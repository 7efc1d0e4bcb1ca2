"""Find burned-in overlay candidates: regions nearly identical across most frames of a dataset.

Two signals, because either alone misleads. Edge persistence (the share of frames with a strong
edge at a pixel) outlines every HUD element, but on aligned face crops the face outline
persists just as strongly. Value stability (the share of frames whose grey level is within a
few levels of the pixel's median over frames) is high where an overlay prints the same thing
every time, and low on a face, whose grey levels move with the subject, the palette and the
camera's auto-ranging. Their product is the score; measured on the real set at 64x64 (every
sixth frame): top band 0.16, colour bar 0.11, face at most 0.015.

Regions are the connected components of score >= SCORE_MIN (after a small closing, so printed
characters join into one box), reported as boxes in the dataset card's format: pixels of the
dataset's most common frame size, so a user can paste them into `[[overlay.box]]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

GRID = 64  # analysis resolution: boxes are fractions, so the frames' aspect does not matter
MAX_FRAMES = 400
EDGE_PERCENTILE = 90  # a "strong" edge: in the top 10 % of gradient magnitudes of the sample
STABLE_LEVELS = 12  # grey levels from the pixel's median that still count as "the same"
SCORE_MIN = 0.05
# A region's mean score: the real HUD's regions score 0.21-0.22, the scattered specks that
# faces and backgrounds leave above SCORE_MIN (synthetic sets without overlay) 0.05-0.06.
REGION_SCORE_MIN = 0.15
MIN_AREA = 0.005  # of the frame: smaller specks are noise, not an overlay


@dataclass(frozen=True)
class Candidate:
    """One overlay candidate in fractions of the frame, rows [top, bottom), columns [left,
    right), with its mean score."""

    top: float
    bottom: float
    left: float
    right: float
    score: float


def overlay_score(images: np.ndarray) -> np.ndarray:
    """(GRID, GRID) score in [0, 1]: edge persistence x value stability over the frames."""
    step = max(1, len(images) // MAX_FRAMES)
    gray = np.stack([
        cv2.resize(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), (GRID, GRID),
                   interpolation=cv2.INTER_AREA)
        for img in images[::step]
    ]).astype(np.float32)
    edges = np.stack([np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
                      for g in gray])
    persistence = (edges > np.percentile(edges, EDGE_PERCENTILE)).mean(axis=0)
    stability = (np.abs(gray - np.median(gray, axis=0)) <= STABLE_LEVELS).mean(axis=0)
    return persistence * stability


def find_overlays(score: np.ndarray) -> list[Candidate]:
    """Boxes around the connected regions of high score, largest first."""
    mask = ndimage.binary_closing(score >= SCORE_MIN, structure=np.ones((3, 3)), iterations=2)
    labels, _ = ndimage.label(mask)
    found = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        rows, cols = box
        area = (rows.stop - rows.start) * (cols.stop - cols.start)
        mean = float(score[labels == index].mean())
        if area < MIN_AREA * score.size or mean < REGION_SCORE_MIN:
            continue
        found.append(Candidate(rows.start / score.shape[0], rows.stop / score.shape[0],
                               cols.start / score.shape[1], cols.stop / score.shape[1], mean))
    return sorted(found, key=lambda c: -(c.bottom - c.top) * (c.right - c.left))


def score_figure(score: np.ndarray) -> np.ndarray:
    """A BGR heat map of the score (bright: nearly identical in most frames), 4x enlarged."""
    scaled = np.clip(score / max(float(score.max()), 1e-6) * 255, 0, 255).astype(np.uint8)
    big = cv2.resize(scaled, (GRID * 4, GRID * 4), interpolation=cv2.INTER_NEAREST)
    return cv2.applyColorMap(big, cv2.COLORMAP_INFERNO)


def card_boxes(candidates: list[Candidate], height: int, width: int) -> str:
    """The candidates as a card's [overlay] table, in pixels of a height x width frame (rounded
    outwards, so a box never shrinks)."""
    if not candidates:
        return '[overlay]\nsource = "none"  # no region is nearly identical across most frames\n'
    lines = ["[overlay]", 'source = "boxes"', f"frame_width = {width}",
             f"frame_height = {height}"]
    for n, c in enumerate(candidates, start=1):
        rows = [int(np.floor(c.top * height)), int(np.ceil(c.bottom * height))]
        cols = [int(np.floor(c.left * width)), int(np.ceil(c.right * width))]
        lines += ["", "[[overlay.box]]", f"# candidate: mean score {c.score:.2f}",
                  f'name = "region_{n}"', f"rows = {rows}", f"columns = {cols}"]
    return "\n".join(lines) + "\n"
