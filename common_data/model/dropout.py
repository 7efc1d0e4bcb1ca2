"""Shared dropout masks: the one source of randomness the twins used to draw for themselves.

Both twins start from the same weights and see the same batches, but each framework drew its
own dropout masks, so a same-seed pair parted after a few hundred steps and a framework
comparison could not tell the frameworks' numerics from the masks' luck. Here the mask of
every dropout layer at every training step is drawn once, in NumPy, from
(seed, epoch, step, layer index), and both twins multiply the layer's input by it. The mask
holds 0 for a dropped unit and 1 / (1 - rate) (in float32) for a kept one, the inverted-dropout
scaling both frameworks use, so applying it is a single float32 multiply in either framework
and the twins compute bit-identical products.

The record's `config.dropout` says which source a run used: "shared" (these masks) or
"framework" (each framework's own dropout, what runs did before masks were shared).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from common_data.model.spec import Shape, Spec

SOURCES = ("shared", "framework")

Masks = dict[str, np.ndarray]


@dataclass(frozen=True)
class DropoutLayer:
    """Where a mask goes: the layer's name and position in the spec, its rate, and the
    shape of its input without the batch axis (canonical NHWC for spatial inputs)."""

    index: int
    name: str
    rate: float
    shape: Shape


def dropout_layers(spec: Spec) -> list[DropoutLayer]:
    """The spec's dropout layers, in order; rate-0 layers need no mask and get none."""
    shapes = [spec.input_shape] + [shape for _, shape in spec.output_shapes()[:-1]]
    return [
        DropoutLayer(index, layer.name, float(layer.rate or 0.0), shape)
        for index, (layer, shape) in enumerate(zip(spec.layers, shapes, strict=True))
        if layer.type == "dropout" and layer.rate
    ]


def draw_masks(
    layers: list[DropoutLayer], seed: int, epoch: int, step: int, batch: int
) -> Masks:
    """The masks of one training step, by layer name, each (batch, *layer.shape) float32.

    epoch and step are 0-based (the step within the epoch). Each (seed, epoch, step, layer)
    gets its own PCG64 stream through NumPy's SeedSequence, so a mask does not depend on how
    many masks were drawn before it, and the same NumPy version gives the same bits on any
    interpreter (checked across Python 3.11 and 3.13 in the cross_env tests).
    """
    masks: Masks = {}
    for layer in layers:
        rng = np.random.default_rng([seed, epoch, step, layer.index])
        keep = rng.random((batch, *layer.shape), dtype=np.float32) >= np.float32(layer.rate)
        masks[layer.name] = keep.astype(np.float32) * np.float32(1.0 / (1.0 - layer.rate))
    return masks


def with_masks(
    batches: Iterator[tuple[np.ndarray, np.ndarray]], layers: list[DropoutLayer], seed: int,
    epoch: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, Masks]]:
    """Attach each step's masks to its batch, so they are drawn where the batch is prepared
    (in the prefetch thread) and never count as step time."""
    for step, (x, y) in enumerate(batches):
        yield x, y, draw_masks(layers, seed, epoch, step, len(y))
