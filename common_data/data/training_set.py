"""The training set a run learns from: which palettes, how many frames, and whether colour
reaches the model, chosen here once so both twins train on the very same bytes.

The palette finding (benchmarks/findings/palette.toml) asks whether the dataset's several
false-colour palettes act as augmentation. Its arms differ only in what they train on, so
everything else must hold still:

* the split is made first, over every frame, exactly as for any run: the validation frames
  (and the split hash that proves them) are the same for every arm;
* `train_palettes` keeps the training frames of those palette folders;
* `train_frames` keeps a stratified subsample of that many (class shares as in the pool,
  largest remainder), drawn by the run's seed: arms compared at one frame count differ in
  which frames, not how many, and a seed always draws the same subsample;
* `colour = "luminance"` replaces every frame (training and validation, so the model is
  scored as it trained) by its BT.601 luma replicated to three channels: hue, the one thing
  a palette adds beyond its grey-level curve, is gone, while the network keeps its input shape.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from common_data.errors import ConfigError

if TYPE_CHECKING:
    from common_data.data.cache import Images
    from common_data.data.splits import Split
    from common_data.run.config import RunConfig

# ITU-R BT.601 luma weights for R, G, B in thousandths: integer arithmetic, so the grey image
# is the same on every platform and in both twins.
LUMA_WEIGHTS = (299, 587, 114)
# Mixed into the subsample's generator so it is not the stream that shuffles the batches.
_SUBSAMPLE_STREAM = 0x7A1E77E


def luminance(pixels: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) RGB to uint8 (..., 3) with Y = 0.299 R + 0.587 G + 0.114 B (rounded)
    in all three channels."""
    luma = (pixels.astype(np.uint32) @ np.array(LUMA_WEIGHTS, dtype=np.uint32) + 500) // 1000
    return np.repeat(luma.astype(np.uint8)[..., None], 3, axis=-1)


def frame_palettes(images: Images, indices: np.ndarray) -> np.ndarray:
    """The palette folder of each frame in `indices` ("" where the layout has none)."""
    return np.array([images.records[i].palette or "" for i in indices], dtype=str)


def dataset_palettes(images: Images) -> tuple[str, ...]:
    """The palette folders of the dataset, sorted; empty for a flat <emotion>/<image> layout."""
    return tuple(sorted({r.palette for r in images.records if r.palette is not None}))


def stratified_subsample(indices: np.ndarray, labels: np.ndarray, n: int,
                         seed: int) -> np.ndarray:
    """`n` of `indices` (sorted), each class's share as in `indices` (largest remainder,
    ties to the lower class), the frames within a class drawn by `seed`."""
    classes, counts = np.unique(labels, return_counts=True)
    quota = n * counts / counts.sum()
    take = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - take), kind="stable")[: n - int(take.sum())]:
        take[i] += 1
    rng = np.random.default_rng([seed, _SUBSAMPLE_STREAM])
    chosen = [rng.choice(indices[labels == c], size=k, replace=False)
              for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def select_training(images: Images, split: Split, palettes: tuple[str, ...], frames: int,
                    seed: int, where: str) -> np.ndarray:
    """The training indices of `split` kept by `palettes` (all when empty) and `frames` (all
    when 0); a selection the data cannot give is one ConfigError naming `where`."""
    keep = split.train
    if palettes:
        known = dataset_palettes(images)
        if not known:
            raise ConfigError(f"{where}: train_palettes {list(palettes)}, but {images.root} has "
                              "no palette folders (expected <emotion>/<palette>/<image>), so "
                              "only train_palettes = [] applies")
        unknown = [p for p in palettes if p not in known]
        if unknown:
            raise ConfigError(f"{where}: train_palettes names {unknown[0]!r}, not a palette "
                              f"folder of {images.root} (expected some of {', '.join(known)})")
        keep = keep[np.isin(frame_palettes(images, keep), palettes)]
    if frames:
        if frames > len(keep):
            chosen = f"palettes {', '.join(palettes)}" if palettes else "every palette"
            raise ConfigError(f"{where}: train_frames {frames}, but the {split.kind} split has "
                              f"only {len(keep)} training frames of {chosen} (expected "
                              f"train_frames <= {len(keep)}, or 0 for all)")
        keep = stratified_subsample(keep, images.labels[keep], frames, seed)
    return keep


def training_view(config: RunConfig, images: Images, split: Split,
                  where: str = "run config") -> tuple[Images, Split]:
    """The run's images in its colour mode and its split with the training side selected;
    the config's defaults return both unchanged (the very objects)."""
    if config.colour == "luminance":
        images = replace(images, images=luminance(images.images))
        split = replace(split, images=images)
    if config.train_palettes or config.train_frames:
        train = select_training(images, split, config.train_palettes, config.train_frames,
                                config.seed, where)
        split = replace(split, train=train, images=images)
    return images, split
