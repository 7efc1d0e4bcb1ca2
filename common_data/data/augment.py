"""The published geometric augmentation, written once so both twins see the same pixels.

The published runs used Keras' `ImageDataGenerator(rotation_range=20, width_shift_range=0.1,
height_shift_range=0.1, shear_range=0.1, zoom_range=0.1, horizontal_flip=True,
fill_mode="nearest")`. This module reproduces its `get_random_transform` + `apply_transform`:

* draws in Keras' order: rotation theta ~ U(-20, 20) degrees; the first shift ~ U(-0.1, 0.1) x
  height and the second ~ U(-0.1, 0.1) x width; shear ~ U(-0.1, 0.1); zoom zx, zy ~ U(0.9, 1.1)
  drawn independently; horizontal flip with probability 0.5, applied after the affine warp.
* Keras documents `shear_range` as "shear angle in counter-clockwise direction in degrees" and
  converts it with `np.deg2rad`, so the published 0.1 means +-0.1 degrees: a near no-op that we
  keep, because reproducing the published setting is the point.
* the matrix is Keras' R(theta) @ T(tx, ty) @ Shear @ Zoom, centred on the image, in (x, y) =
  (column, row) coordinates: Keras swaps axes before `scipy.ndimage.affine_transform`, so its
  `tx` (drawn from height_shift_range) moves columns and `zx` scales columns too; we keep that.
  Keras centres x on the height, we on the width: identical for the square images used here.
  The matrix maps output pixels to input pixels, hence `WARP_INVERSE_MAP`.
* `fill_mode="nearest"` is `BORDER_REPLICATE`; Keras' `order=1` (bilinear) is `INTER_LINEAR`.
  OpenCV's bilinear warp on uint8 uses fixed-point weights, so results are bit-exact for a given
  OpenCV build and may differ from SciPy's float interpolation by a gray level at most.

Randomness is a fresh `np.random.default_rng([seed, epoch, index])` per sample, where `index` is
the image's position in the dataset, so a frame's augmentation depends on nothing but
(seed, epoch, frame): not on batch size, shuffling or which framework asks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Augmentation:
    """Keras ImageDataGenerator ranges; the defaults are the published ones."""

    rotation_deg: float = 20.0
    height_shift: float = 0.1
    width_shift: float = 0.1
    shear_deg: float = 0.1
    zoom: float = 0.1
    horizontal_flip: bool = True


PUBLISHED = Augmentation()


@dataclass(frozen=True)
class Transform:
    """One sample's random draw, kept separate from the warp so tests can check both."""

    theta_deg: float
    tx: float
    ty: float
    shear_deg: float
    zx: float
    zy: float
    flip: bool


def draw_transform(
    rng: np.random.Generator, height: int, width: int, params: Augmentation = PUBLISHED
) -> Transform:
    """Draw in Keras' order so every parameter has the same distribution as the original."""
    theta = rng.uniform(-params.rotation_deg, params.rotation_deg)
    tx = rng.uniform(-params.height_shift, params.height_shift) * height
    ty = rng.uniform(-params.width_shift, params.width_shift) * width
    shear = rng.uniform(-params.shear_deg, params.shear_deg)
    zx, zy = rng.uniform(1.0 - params.zoom, 1.0 + params.zoom, 2)
    flip = bool(rng.random() < 0.5) and params.horizontal_flip
    return Transform(float(theta), float(tx), float(ty), float(shear), float(zx), float(zy), flip)


def transform_matrix(t: Transform, height: int, width: int) -> np.ndarray:
    """2x3 output->input matrix in OpenCV (x, y) coordinates, centred like Keras."""
    theta = np.deg2rad(t.theta_deg)
    shear = np.deg2rad(t.shear_deg)
    rotation = np.array(
        [[np.cos(theta), -np.sin(theta), 0.0], [np.sin(theta), np.cos(theta), 0.0], [0, 0, 1]]
    )
    shift = np.array([[1.0, 0.0, t.tx], [0.0, 1.0, t.ty], [0, 0, 1]])
    shear_m = np.array([[1.0, -np.sin(shear), 0.0], [0.0, np.cos(shear), 0.0], [0, 0, 1]])
    zoom = np.diag([t.zx, t.zy, 1.0])
    cx, cy = width / 2 - 0.5, height / 2 - 0.5
    to_centre = np.array([[1.0, 0.0, cx], [0.0, 1.0, cy], [0, 0, 1]])
    from_centre = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0, 0, 1]])
    matrix = to_centre @ rotation @ shift @ shear_m @ zoom @ from_centre
    return matrix[:2]


def apply_transform(image: np.ndarray, t: Transform) -> np.ndarray:
    """Warp one uint8 (H, W, 3) image, then flip; output has the input's shape and dtype."""
    height, width = image.shape[:2]
    out = cv2.warpAffine(
        image,
        transform_matrix(t, height, width),
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    # cv2.flip rather than a copy of `out[:, ::-1]`: the same bytes, but NumPy's copy through a
    # negative stride cost about 90 us per 128x128 frame, a fifth of the loader's time per image
    return cv2.flip(out, 1) if t.flip else out


def augment_image(
    image: np.ndarray, seed: int, epoch: int, index: int, params: Augmentation = PUBLISHED
) -> np.ndarray:
    """The augmented version of dataset image `index` in `epoch` of a run seeded `seed`."""
    rng = np.random.default_rng([seed, epoch, index])
    height, width = image.shape[:2]
    return apply_transform(image, draw_transform(rng, height, width, params))
