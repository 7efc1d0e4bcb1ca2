"""Preprocessing choices that shape the decoded pixels, and therefore belong in the cache key.

Camera datasets often carry a burned-in overlay (a HUD with the capture time, a temperature
scale, a hospital tag). Where it correlates with the label, a model can score well without
looking at a face, so a benchmark must be able to hide it (`hud="masked"`) or train on nothing
but it (`hud="hud_only"`) to show the shortcut. Which regions are overlay is the dataset's own
fact: its card declares them (`common_data.data.card`) and they reach `Preprocess.boxes` from
there, never from code.

Boxes are fractions of the frame's height and width so they survive other resolutions.
`hud_only` keeps the boxes marked `keep_in_hud_only` and blanks everything else (a reticle's
inside is face, so keeping it would leak face pixels into a run meant to see none); `masked`
blanks every box. Blanked pixels are zero (black) in every channel. Masking runs on the
full-resolution frame, before the resize, so no overlay pixel is smeared into its neighbours by
the interpolation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from common_data.errors import ConfigError
from common_data.regimes import OVERLAYS, choices, full_frame

# Names, not cv2 constants, go into the cache key: the names are stable across OpenCV builds.
INTERPOLATIONS: dict[str, int] = {
    "area": cv2.INTER_AREA,
    "linear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
    "cubic": cv2.INTER_CUBIC,
    "lanczos4": cv2.INTER_LANCZOS4,
}

MIN_SIZE = 8
MAX_SIZE = 4096


@dataclass(frozen=True)
class HudBox:
    """One HUD rectangle in fractions of the frame: rows [top, bottom), columns [left, right).

    `keep_in_hud_only` is False for boxes whose inside is face, not HUD (the cross-hair).
    """

    name: str
    top: float
    bottom: float
    left: float
    right: float
    keep_in_hud_only: bool = True

    def __post_init__(self) -> None:
        if not (0.0 <= self.top < self.bottom <= 1.0 and 0.0 <= self.left < self.right <= 1.0):
            raise ConfigError(
                f"HUD box {self.name!r} has rows {self.top}..{self.bottom} and columns "
                f"{self.left}..{self.right}: expected fractions with 0 <= start < end <= 1"
            )

    def pixels(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Pixel bounds (r0, r1, c0, c1), rounded outwards so a box never shrinks.

        The tolerance keeps 43/320 * 320 at 43 instead of letting float error round it to 44.
        """
        eps = 1e-9
        r0 = int(np.floor(self.top * height + eps))
        r1 = int(np.ceil(self.bottom * height - eps))
        c0 = int(np.floor(self.left * width + eps))
        c1 = int(np.ceil(self.right * width - eps))
        return r0, r1, c0, c1


@dataclass(frozen=True)
class Preprocess:
    """Everything between the decoded frame and the cached uint8 array.

    The resize squashes the frame to `size` x `size` (the real 240x320 frames lose their aspect
    ratio), as the published pipeline did with `cv2.resize(img, (128, 128))`.
    """

    size: int = 128
    interpolation: str = "area"
    hud: str = "full"
    boxes: tuple[HudBox, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int | np.integer):
            raise ConfigError(f"image size {self.size!r} is not valid: expected an integer")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ConfigError(
                f"image size {self.size} is not valid: expected an integer in "
                f"{MIN_SIZE}..{MAX_SIZE}"
            )
        if self.interpolation not in INTERPOLATIONS:
            raise ConfigError(
                f"interpolation {self.interpolation!r} is not valid: expected one of "
                f"{', '.join(INTERPOLATIONS)}"
            )
        if self.hud not in OVERLAYS:
            raise ConfigError(
                f"hud {self.hud!r} is not valid: expected one of {choices(OVERLAYS)}"
            )
        if OVERLAYS[self.hud].overlay and not self.boxes:
            raise ConfigError(
                f"hud {self.hud!r} needs overlay regions, but the dataset card declares none: "
                f"expected hud {full_frame()!r}, or [[overlay.box]] entries in the card"
            )

    def key(self) -> dict:
        """JSON-able description; boxes only count where they change pixels (hud != 'full')."""
        key: dict = {"size": int(self.size), "interpolation": self.interpolation, "hud": self.hud}
        if OVERLAYS[self.hud].overlay:
            key["boxes"] = [asdict(box) for box in self.boxes]
        return key

    def apply_hud(self, rgb: np.ndarray) -> np.ndarray:
        """Blank HUD boxes ('masked') or everything but them ('hud_only'); 'full' is a no-op."""
        if not OVERLAYS[self.hud].overlay:
            return rgb
        height, width = rgb.shape[:2]
        if self.hud == "masked":
            out = rgb.copy()
            for box in self.boxes:
                r0, r1, c0, c1 = box.pixels(height, width)
                out[r0:r1, c0:c1] = 0
            return out
        if self.hud != "hud_only":  # a row of common_data/regimes.toml with no code here
            raise ConfigError(f"hud {self.hud!r} is listed in regimes.toml but "
                              "common_data/data/preprocess.py has no code that applies it")
        out = np.zeros_like(rgb)
        for box in self.boxes:
            if box.keep_in_hud_only:
                r0, r1, c0, c1 = box.pixels(height, width)
                out[r0:r1, c0:c1] = rgb[r0:r1, c0:c1]
        return out

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """HUD policy on the full-resolution frame, then the resize to `size` x `size`."""
        frame = self.apply_hud(rgb)
        if frame.shape[:2] == (self.size, self.size):
            return np.ascontiguousarray(frame)
        return cv2.resize(
            frame, (self.size, self.size), interpolation=INTERPOLATIONS[self.interpolation]
        )

    def hud_mask(self, height: int, width: int) -> np.ndarray:
        """Boolean (height, width) map of pixels inside any HUD box, at any resolution."""
        mask = np.zeros((height, width), dtype=bool)
        for box in self.boxes:
            r0, r1, c0, c1 = box.pixels(height, width)
            mask[r0:r1, c0:c1] = True
        return mask
